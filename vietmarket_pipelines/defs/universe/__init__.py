"""The ticker universe: the symbols table and the dynamic `tickers` partitions."""
