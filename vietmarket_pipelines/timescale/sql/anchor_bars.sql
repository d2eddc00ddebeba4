-- The first `bars` stored bars of each requested series ({table}) in [since, until): the anchor an
-- anchor probe compares with the provider.  One row per series, its bars as arrays ascending;
-- the `until` bound keeps the scan to the anchor's chunks, not the whole series.
SELECT ticker,
       array_agg(ts ORDER BY ts), array_agg(o ORDER BY ts), array_agg(h ORDER BY ts),
       array_agg(l ORDER BY ts), array_agg(c ORDER BY ts)
  FROM (SELECT ticker, ts, o, h, l, c, row_number() OVER (PARTITION BY ticker ORDER BY ts) AS n
          FROM {table}
         WHERE ticker = ANY(%(tickers)s) AND tf = %(tf)s AND ts >= %(since)s AND ts < %(until)s) b
 WHERE n <= %(bars)s
 GROUP BY ticker;
