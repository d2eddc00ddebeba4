-- One ticker's linked fetched articles, newest first, keyset-paged and shaped like news_latest.sql.
SELECT a.url, a.title, a.source, a.published_at, nullif(left(coalesce(a.text, ''), 220), '') AS snippet,
       coalesce((SELECT array_agg(s2.ticker ORDER BY s2.confidence DESC, s2.ticker)
                 FROM article_symbols s2 WHERE s2.article_url = a.url), '{}') AS tickers,
       a.description
FROM article_symbols s
JOIN articles a ON a.url = s.article_url
WHERE s.ticker = $1
  AND a.published_at IS NOT NULL
  AND a.fetch_status = 'fetched'
  AND ($2::timestamptz IS NULL OR (a.published_at, a.url) < ($2::timestamptz, $3::text))
ORDER BY a.published_at DESC, a.url DESC
LIMIT $4
