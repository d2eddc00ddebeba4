-- Per 1d series: how many of its bars from an adjusting provider (the `sources` parameter) have a
-- finfo stock row on the same trading date, and which closes differ from finfo's adClose by more
-- than `tolerance` (thousands of VND): (ts, close, adClose) of the first `sample`, oldest first.
WITH pairs AS (
  SELECT c.ticker, c.ts, c.c AS close, p.ad_close,
         abs(c.c - p.ad_close) > %(tolerance)s AS differs
    FROM candles_1d c
    JOIN daily_prices p ON p.ticker = c.ticker AND p.ts = c.ts
   WHERE c.ticker = ANY(%(tickers)s) AND c.tf = '1d' AND c.ts >= %(since)s
     AND c.source = ANY(%(sources)s) AND p.exchange IS NOT NULL
)
SELECT ticker,
       count(*) AS compared,
       count(*) FILTER (WHERE differs) AS differing,
       (array_agg(ts ORDER BY ts) FILTER (WHERE differs))[1:%(sample)s] AS ts,
       (array_agg(close ORDER BY ts) FILTER (WHERE differs))[1:%(sample)s] AS close,
       (array_agg(ad_close ORDER BY ts) FILTER (WHERE differs))[1:%(sample)s] AS ad_close
  FROM pairs
 GROUP BY ticker;
