-- The newest bar of every series of one timeframe, kept by triggers on every write path; ordered
-- by ticker like the old server.  v is a share count: whole, printed without a fraction.
-- ingested_at is when the bar was last written (candles_latest.updated_at), ISO 8601 UTC.
SELECT ticker, tf, ts, o, h, l, c, round(v)::bigint AS v, source,
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ingested_at
FROM candles_latest
WHERE tf = $1
ORDER BY ticker
LIMIT $2
