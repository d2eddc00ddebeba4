-- How many bars each requested series ({table}) holds: the partition's row count in Dagster.
SELECT t.ticker, (SELECT count(*) FROM {table} c WHERE c.ticker = t.ticker AND c.tf = %(tf)s)
  FROM unnest(%(tickers)s::text[]) AS t(ticker);
