-- A real read on the data the API serves, cheap through candles_latest's (tf, ts) index.
SELECT max(ts) FROM candles_latest WHERE tf = '1d'
