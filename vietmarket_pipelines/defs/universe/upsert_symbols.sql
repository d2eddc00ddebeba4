-- Upserts the listed symbols; a row that did not change keeps its updated_at.
INSERT INTO symbols AS s (ticker, name, exchange, kind, active, updated_at, last_seen_at)
SELECT ticker, name, exchange, kind, true, %(now_ms)s, now()
  FROM unnest(%(tickers)s::text[], %(names)s::text[], %(exchanges)s::text[], %(kinds)s::text[])
       AS l(ticker, name, exchange, kind)
ON CONFLICT (ticker) DO UPDATE
   SET name = excluded.name, exchange = excluded.exchange, kind = excluded.kind, active = true,
       last_seen_at = now(),
       updated_at = CASE WHEN (s.name, s.exchange, s.kind, s.active)
                              IS DISTINCT FROM (excluded.name, excluded.exchange, excluded.kind, true)
                         THEN excluded.updated_at ELSE s.updated_at END
RETURNING ticker, xmax = 0 AS inserted;
