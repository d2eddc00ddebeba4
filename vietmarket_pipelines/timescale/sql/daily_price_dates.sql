-- Each given ticker's stored trading dates (ts, unix ms), ascending.
SELECT ticker, array_agg(ts ORDER BY ts) FROM daily_prices WHERE ticker = ANY (%(tickers)s) GROUP BY ticker;
