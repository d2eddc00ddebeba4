-- The newest stored trading date (ts, unix ms) of each of the given tickers that has any daily_prices.
SELECT ticker, max(ts) FROM daily_prices WHERE ticker = ANY (%(tickers)s) GROUP BY ticker;
