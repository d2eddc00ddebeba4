-- One page of one series, newest first: an index-only backward scan of the primary key.
-- {table} is candles_1d, candles_1h or candles_15m, taken from a fixed mapping, never from input.
-- The caller asks for one row more than the page so it knows whether older bars exist.
SELECT ts, o, h, l, c, v, source
FROM {table}
WHERE ticker = $1 AND tf = $2 AND ts < $3
ORDER BY ts DESC
LIMIT $4
