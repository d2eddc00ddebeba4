"""The news domain: Vietstock articles, their fetch states, ticker links, the crawl, checks and schedule."""
