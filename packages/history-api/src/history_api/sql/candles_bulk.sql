-- One /candles/bulk page: the bars of several series in [from, to), by ticker then ts (oldest first),
-- after the cursor's (ticker, ts).  {table} is a candle hypertable from the fixed mapping, or a
-- raw-basis relation over it (adjustment.py).  Rows leave the server as ready JSON, as in
-- candles_page.sql; v is a whole number of shares.
WITH page AS (
  SELECT ticker, ts, o, h, l, c, v, source
  FROM {table} AS bars
  WHERE ticker = ANY($1::text[]) AND tf = $2 AND ts >= $3 AND ts < $4 AND (ticker, ts) > ($5::text, $6::bigint)
  ORDER BY ticker, ts
  LIMIT $7
), last AS (
  SELECT ticker, ts FROM page ORDER BY ticker DESC, ts DESC LIMIT 1
)
SELECT (SELECT count(*)::int FROM page) AS bars,
       (SELECT ticker FROM last) AS last_ticker,
       (SELECT ts FROM last) AS last_ts,
       (SELECT coalesce(string_agg(concat('{{"ticker":', to_json(ticker)::text, ',"ts":', ts, ',"o":', o,
                                          ',"h":', h, ',"l":', l, ',"c":', c,
                                          ',"v":', coalesce(round(v)::bigint::text, 'null'),
                                          ',"source":', coalesce(to_json(source)::text, 'null'), '}}'),
                                   ',' ORDER BY ticker, ts), '') FROM page) AS rows_json,
       EXISTS (SELECT 1 FROM {table} t, last
               WHERE t.ticker = ANY($1::text[]) AND t.tf = $2 AND t.ts >= $3 AND t.ts < $4
                 AND (t.ticker, t.ts) > (last.ticker, last.ts)) AS more
