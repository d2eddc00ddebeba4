-- The fingerprint of each series' latest slice ({table}): what Convex should hold for it now.
SELECT t.ticker,
       md5(coalesce(string_agg(concat_ws(',', b.ts, b.o, b.h, b.l, b.c, b.v, b.source), ';' ORDER BY b.ts), ''))
         AS slice_hash
FROM unnest(%(tickers)s::text[]) AS t(ticker)
LEFT JOIN LATERAL (
  SELECT ts, o, h, l, c, v, source FROM {table} c
  WHERE c.ticker = t.ticker AND c.tf = %(tf)s
  ORDER BY ts DESC
  LIMIT %(keep)s
) b ON true
GROUP BY t.ticker
