-- The bars of each latest slice ({table}) written since the series' watermark (all of it when the
-- watermark is NULL): only new and revised bars travel, because the upsert path touches
-- ingested_at on nothing else.
SELECT t.ticker, s.ts, s.o, s.h, s.l, s.c, s.v, s.source
FROM unnest(%(tickers)s::text[], %(since)s::timestamptz[]) AS t(ticker, since)
CROSS JOIN LATERAL (
  SELECT ts, o, h, l, c, v, source, ingested_at FROM {table} c
  WHERE c.ticker = t.ticker AND c.tf = %(tf)s
  ORDER BY ts DESC
  LIMIT %(keep)s
) s
WHERE t.since IS NULL OR s.ingested_at >= t.since
ORDER BY t.ticker, s.ts
