-- The stored bars of each requested series ({table}) from `since` on: what an incremental fetch's
-- overlap is compared with to see a restatement.  One row per series, its bars as arrays
-- ascending, so a provider chunk's comparison costs one round trip and no per-bar rows.
SELECT ticker,
       array_agg(ts ORDER BY ts), array_agg(o ORDER BY ts), array_agg(h ORDER BY ts),
       array_agg(l ORDER BY ts), array_agg(c ORDER BY ts)
  FROM {table}
 WHERE ticker = ANY(%(tickers)s) AND tf = %(tf)s AND ts >= %(since)s
 GROUP BY ticker;
