-- One /candles page of one series, newest first: an index-only backward scan of the primary key.
-- {table} is candles_1d, candles_1h or candles_15m, taken from a fixed mapping, never from input,
-- or a raw-basis relation over them (adjustment.py).
-- The rows leave the server as ready JSON objects: Postgres renders float8 as the shortest text that
-- round-trips (extra_float_digits = 1), which is also valid JSON, and this costs the server less
-- than the API process would spend decoding and re-encoding every value.  NaN and infinities never
-- reach these tables (the ingestion validator refuses them), so every number is finite JSON.
WITH page AS (
  SELECT ts, o, h, l, c, v, source
  FROM {table} AS bars
  WHERE ticker = $1 AND tf = $2 AND ts < $3
  ORDER BY ts DESC
  LIMIT $4
)
SELECT count(*)::int AS bars,
       max(ts) AS newest,
       min(ts) AS oldest,
       coalesce(string_agg(concat('{{"ts":', ts, ',"o":', o, ',"h":', h, ',"l":', l, ',"c":', c,
                                  ',"v":', coalesce(v::text, 'null'),
                                  ',"source":', coalesce(to_json(source)::text, 'null'), '}}'),
                           ',' ORDER BY ts DESC), '') AS rows_json,
       EXISTS (SELECT 1 FROM {table} t
               WHERE t.ticker = $1 AND t.tf = $2 AND t.ts < (SELECT min(ts) FROM page)) AS more
FROM page
