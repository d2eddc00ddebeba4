-- A reconnecting stream's missed bars: every bar of tickers $1 at or after ts $2 (the last event's
-- id), oldest first, at most $3.  At, not after: the bar the client saw last may have been revised.
SELECT ticker, tf, ts, o, h, l, c, v
FROM {table} AS bars
WHERE ticker = ANY($1::text[]) AND ts >= $2
ORDER BY ts, ticker
LIMIT $3
