-- The exchange each requested ticker is listed on now (indices: the exchange they are computed on).
SELECT ticker, exchange FROM symbols WHERE ticker = ANY(%(tickers)s) AND exchange IS NOT NULL;
