-- The current newest bar of each series ($1 tickers, $2 timeframes, pairwise), as candles_latest
-- holds it after a NOTIFY on `candles_latest` named them.
SELECT cl.ticker, cl.tf, cl.ts, cl.o, cl.h, cl.l, cl.c, cl.v
FROM unnest($1::text[], $2::text[]) AS k (ticker, tf)
JOIN candles_latest cl ON cl.ticker = k.ticker AND cl.tf = k.tf
ORDER BY cl.ts, cl.ticker
