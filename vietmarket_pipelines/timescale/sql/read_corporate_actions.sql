-- The given tickers' corporate actions from one source, by ticker and ex-date.
SELECT ticker, ex_date, factor, cumulative_factor, event_type
  FROM corporate_actions
 WHERE ticker = ANY (%(tickers)s) AND source = %(source)s AND ex_date IS NOT NULL
 ORDER BY ticker, ex_date;
