-- The newest bars of one series in [from, to), newest first; the UDF history range request.
SELECT ts, o, h, l, c, v
FROM {table} AS bars
WHERE ticker = $1 AND tf = $2 AND ts >= $3 AND ts < $4
ORDER BY ts DESC
LIMIT $5
