-- Pages to fetch now: never fetched, or failed and past their back-off, newest first.
SELECT url, published_at
FROM articles
WHERE fetch_status <> 'fetched'
  AND fetch_attempts < %(max_attempts)s
  AND coalesce(next_fetch_at, '-infinity') <= now()
ORDER BY published_at DESC NULLS LAST, url
LIMIT %(limit)s
