-- Bars that break l <= min(o, c) <= max(o, c) <= h or v >= 0, per series.
SELECT ticker, count(*) AS bad, min(ts) AS first_bad
  FROM {table}
 WHERE ticker = ANY(%(tickers)s) AND tf = %(tf)s AND ts >= %(since)s
   AND NOT (l <= least(o, c) AND greatest(o, c) <= h AND coalesce(v, 0) >= 0)
 GROUP BY ticker;
