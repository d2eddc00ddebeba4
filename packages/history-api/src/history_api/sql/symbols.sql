-- The listed universe, optionally one exchange and/or only active (or only inactive) tickers.
SELECT ticker, name, exchange, kind, active
FROM symbols
WHERE ($1::text IS NULL OR exchange = $1) AND ($2::boolean IS NULL OR active = $2)
ORDER BY ticker
