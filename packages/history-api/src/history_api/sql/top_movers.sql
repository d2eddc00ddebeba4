-- The old server's /top-movers: every ticker's newest bar of one timeframe (candles_latest, kept by
-- triggers) against the bar before it, biggest rise first.  The previous close is one index-only
-- probe of {table}'s primary key (ticker, tf, ts) INCLUDE (o, h, l, c, v, source) per ticker:
-- ~30 ms for 1,600 tickers (~16 us a probe, mostly ChunkAppend's), so no second copy of the
-- previous close is kept in candles_latest.
-- A ticker with a single bar has no previous close and is not listed, as in the old server;
-- pct_change is null when the previous close is 0 and such rows sort last.
SELECT l.ticker, l.tf, l.ts AS ts_latest, l.c AS close_latest, p.c AS close_prev,
       (l.c - p.c) / nullif(p.c, 0) AS pct_change
FROM candles_latest l
CROSS JOIN LATERAL (
  SELECT b.c FROM {table} b
  WHERE b.ticker = l.ticker AND b.tf = l.tf AND b.ts < l.ts
  ORDER BY b.ts DESC
  LIMIT 1
) p
WHERE l.tf = $1
ORDER BY pct_change DESC NULLS LAST, l.ticker
LIMIT $2
