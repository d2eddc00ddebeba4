-- UDF timescale marks: one per ex-date of ticker $1 whose mark time, in unix seconds, is in
-- [$2, $3).  A mark's time is the ex-date's 00:00 UTC (its 1d bar time) plus $4 seconds (0 for
-- daily charts, the 09:00 ICT open for intraday ones).  Every action of the date, of any source,
-- is one tooltip line; label and colour follow the first one's kind.  Ready JSON, ascending.
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
SELECT coalesce(json_agg(json_build_object(
         'id', to_char(ex_date, 'YYYY-MM-DD'),
         'time', time,
         'color', CASE kind WHEN 'split' THEN 'red' WHEN 'stock_dividend' THEN 'blue' WHEN 'bonus' THEN 'green'
                            WHEN 'cash_dividend' THEN 'orange' ELSE 'gray' END,
         'label', CASE kind WHEN 'split' THEN 'S' WHEN 'stock_dividend' THEN 'D' WHEN 'bonus' THEN 'B'
                            WHEN 'cash_dividend' THEN 'C' ELSE 'A' END,
         'tooltip', array_prepend('Ex-date ' || to_char(ex_date, 'YYYY-MM-DD'), lines)
       ) ORDER BY ex_date), '[]')::text AS marks
FROM marks
WHERE time >= $2 AND time < $3
