-- Marks symbols missing from a complete listing inactive.  Their history stays.
UPDATE symbols
   SET active = false, updated_at = %(now_ms)s
 WHERE active AND NOT (ticker = ANY(%(tickers)s::text[]))
RETURNING ticker;
