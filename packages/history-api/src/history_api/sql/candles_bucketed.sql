-- Weekly or monthly bars aggregated from daily bars on the fly.  A bucket is anchored on its first
-- trading date (t = that date's 1d ts), not on the calendar's Monday or 1st, so a week that starts
-- with a holiday is stamped with the day trading resumed.  $4 is '1 week' or '1 month'; Timescale
-- buckets dates on Mondays (origin 2000-01-03) and on the 1st of the month.  {table} is candles_1d
-- or the raw daily relation (adjustment.py).
WITH days AS (
  SELECT ts, o, h, l, c, v, (to_timestamp(ts / 1000) AT TIME ZONE 'UTC')::date AS trading_date
  FROM {table} AS bars
  WHERE ticker = $1 AND tf = '1d' AND ts >= $2 AND ts < $3
),
buckets AS (
  SELECT min(ts) AS t, first(o, ts) AS o, max(h) AS h, min(l) AS l, last(c, ts) AS c, sum(v) AS v
  FROM days
  GROUP BY time_bucket($4::text::interval, trading_date)
)
SELECT t AS ts, o, h, l, c, v
FROM buckets
WHERE t >= $5 AND t < $6
ORDER BY t DESC
LIMIT $7
