-- Tickers that start with the query, then names that contain it; exact ticker first.
-- strpos, not LIKE, so '%' and '_' in a query are just characters.
SELECT ticker, name, exchange, kind
FROM symbols
WHERE active
  AND (starts_with(ticker, upper($1)) OR strpos(lower(coalesce(name, '')), lower($1)) > 0)
  AND ($2::text IS NULL OR exchange = $2)
  AND ($3::text IS NULL OR kind = $3)
ORDER BY ticker = upper($1) DESC, starts_with(ticker, upper($1)) DESC, ticker
LIMIT $4
