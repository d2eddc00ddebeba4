-- How many series an /export of the whole market (or of one exchange, $1) may touch: its cost estimate.
SELECT count(*)::int FROM symbols WHERE $1::text IS NULL OR exchange = $1::text
