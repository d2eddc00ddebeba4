-- The bars /export streams: every series of one timeframe in [from, to), by ticker then ts, read
-- through a server-side cursor.  $3: only these tickers (NULL: all); $4: only this exchange's
-- listed tickers (NULL: any).  {table} is a candle hypertable from the fixed mapping, or a
-- raw-basis relation over it (adjustment.py).  v is a whole number of shares.
SELECT ticker, ts, o, h, l, c, round(v)::bigint AS v, source
FROM {table} AS bars
WHERE tf = $1 AND ts >= $2 AND ts < $5
  AND ($3::text[] IS NULL OR ticker = ANY($3::text[]))
  AND ($4::text IS NULL OR ticker IN (SELECT s.ticker FROM symbols s WHERE s.exchange = $4::text))
ORDER BY ticker, ts
