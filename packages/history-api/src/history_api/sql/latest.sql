-- The newest bar of every series of one timeframe, kept by triggers on every write path.
SELECT ticker, ts, o, h, l, c, v, source
FROM candles_latest
WHERE tf = $1
ORDER BY ts DESC, ticker
LIMIT $2
