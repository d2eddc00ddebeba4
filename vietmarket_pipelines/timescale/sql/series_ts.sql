-- Every stored bar open of each requested series, ascending.
SELECT ticker, array_agg(ts ORDER BY ts)
  FROM {table}
 WHERE ticker = ANY(%(tickers)s) AND tf = %(tf)s AND ts >= %(since)s
 GROUP BY ticker;
