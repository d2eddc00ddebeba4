-- Fetched articles that still lack a title or a publish time: the old system's defect.
SELECT url FROM articles
WHERE fetch_status = 'fetched' AND (title IS NULL OR btrim(title) = '' OR published_at IS NULL)
ORDER BY url
LIMIT 20
