-- UDF timescale marks: one per ex-date of ticker $1 whose mark time, in unix seconds, is in
-- [$2, $3).  A mark's time is the ex-date's 00:00 UTC (its 1d bar time) plus $4 seconds (0 for
-- daily charts, the 09:00 ICT open for intraday ones).  Every action of the date, of any source,
-- is one tooltip line; label and colour follow the first one's kind.  Compact ready JSON, ascending.
WITH marks AS (
  SELECT ex_date,
         (ex_date - DATE '1970-01-01')::bigint * 86400 + $4 AS time,
         (array_agg(coalesce(event_type, '') ORDER BY (source = 'finfo') DESC, id))[1] AS kind,
         array_agg(coalesce(headline, initcap(replace(event_type, '_', ' ')), 'Corporate action')
                   || coalesce(', factor ' || round(factor::numeric, 4)::text, '')
                   || ' (' || source || ')' ORDER BY (source = 'finfo') DESC, id) AS lines
  FROM corporate_actions
  WHERE ticker = $1 AND ex_date IS NOT NULL
  GROUP BY ex_date
)
SELECT '[' || coalesce(string_agg(to_json(r)::text, ',' ORDER BY r.time), '') || ']' AS marks
FROM marks m
CROSS JOIN LATERAL (
  SELECT to_char(m.ex_date, 'YYYY-MM-DD') AS id,
         m.time,
         CASE m.kind WHEN 'split' THEN 'red' WHEN 'stock_dividend' THEN 'blue' WHEN 'bonus' THEN 'green'
                     WHEN 'cash_dividend' THEN 'orange' ELSE 'gray' END AS color,
         CASE m.kind WHEN 'split' THEN 'S' WHEN 'stock_dividend' THEN 'D' WHEN 'bonus' THEN 'B'
                     WHEN 'cash_dividend' THEN 'C' ELSE 'A' END AS label,
         array_prepend('Ex-date ' || to_char(m.ex_date, 'YYYY-MM-DD'), m.lines) AS tooltip
) r
WHERE m.time >= $2 AND m.time < $3
