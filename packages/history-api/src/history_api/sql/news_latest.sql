-- Newest articles first, keyset-paged on (published_at desc, url desc); $1/$2 is the cursor or NULL.
SELECT a.url, a.title, a.published_at, a.source, a.description,
       coalesce((SELECT array_agg(s.ticker ORDER BY s.confidence DESC, s.ticker)
                 FROM article_symbols s WHERE s.article_url = a.url), '{}') AS tickers
FROM articles a
WHERE a.published_at IS NOT NULL
  AND ($1::timestamptz IS NULL OR (a.published_at, a.url) < ($1::timestamptz, $2::text))
ORDER BY a.published_at DESC, a.url DESC
LIMIT $3
