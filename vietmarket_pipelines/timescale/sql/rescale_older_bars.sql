-- A replacement's stored bars of {table} older than the provider's whole history still reaches
-- (VCI keeps about 120 trading days of minute bars): they are the same traded history, so instead
-- of being lost they move to the new basis by the restatement's factor, rounded to 0.01 thousand
-- VND as the provider rounds its own adjusted prices.  Rounding is monotonic, so l <= o, c <= h
-- still holds; volume stays as stored, as the providers adjust prices, not share counts.
UPDATE {table}
   SET o = round((o * %(factor)s)::numeric, 2)::float8,
       h = round((h * %(factor)s)::numeric, 2)::float8,
       l = round((l * %(factor)s)::numeric, 2)::float8,
       c = round((c * %(factor)s)::numeric, 2)::float8,
       ingested_at = now()
 WHERE ticker = %(ticker)s AND tf = %(tf)s AND ts < %(first_ts)s;
