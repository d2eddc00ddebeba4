-- The newest bars of one series before a point, newest first: the UDF countback request.
-- {table} is candles_1d, candles_1h or candles_15m, taken from a fixed mapping, never from input.
SELECT ts, o, h, l, c, v, source
FROM {table} AS bars
WHERE ticker = $1 AND tf = $2 AND ts < $3
ORDER BY ts DESC
LIMIT $4
