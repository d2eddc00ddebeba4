-- The newest fetched articles with their linked tickers: the news slice Convex holds.
SELECT a.url, a.title, (extract(epoch FROM a.published_at) * 1000)::bigint AS published_ms, a.source,
       coalesce((SELECT array_agg(s.ticker ORDER BY s.confidence DESC, s.ticker)
                 FROM article_symbols s WHERE s.article_url = a.url), '{}') AS tickers
FROM articles a
WHERE a.fetch_status = 'fetched' AND a.published_at IS NOT NULL AND a.title IS NOT NULL
ORDER BY a.published_at DESC, a.url DESC
LIMIT %(keep)s
