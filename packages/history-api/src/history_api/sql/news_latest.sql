-- Newest fetched articles first, as the old server listed them, keyset-paged on
-- (published_at desc, url desc); $1/$2 is the cursor or NULL ($2 NULL alone: published_at < $1).
-- snippet is the text's first 220 characters, null while the text is empty.
SELECT a.url, a.title, a.source, a.published_at, nullif(left(coalesce(a.text, ''), 220), '') AS snippet,
       coalesce((SELECT array_agg(s.ticker ORDER BY s.confidence DESC, s.ticker)
                 FROM article_symbols s WHERE s.article_url = a.url), '{}') AS tickers,
       a.description
FROM articles a
WHERE a.published_at IS NOT NULL
  AND a.fetch_status = 'fetched'
  AND ($1::timestamptz IS NULL OR (a.published_at, a.url) < ($1::timestamptz, $2::text))
ORDER BY a.published_at DESC, a.url DESC
LIMIT $3
