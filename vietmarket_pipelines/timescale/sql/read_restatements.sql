-- The given tickers' recorded restatements of candle series by any source other than the one given.
SELECT id, ticker, tf, source, detected_at, factor, estimated_ex_date
  FROM series_restatements
 WHERE ticker = ANY (%(tickers)s) AND source <> %(source)s
 ORDER BY ticker, estimated_ex_date, tf, id;
