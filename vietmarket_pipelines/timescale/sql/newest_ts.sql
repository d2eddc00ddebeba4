-- The newest stored bar of each requested series, from candles_latest (kept by triggers).
SELECT ticker, ts
  FROM candles_latest
 WHERE tf = %(tf)s AND ticker = ANY(%(tickers)s);
