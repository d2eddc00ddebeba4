-- Feed items by canonical URL: a new article is pending; a known one remembers one more feed and
-- keeps what it already has (a fetched page's title and time beat the feed's).
INSERT INTO articles AS a (url, title, published_at, description, feed_url, feed_urls)
VALUES %s
ON CONFLICT (url) DO UPDATE SET
  feed_urls    = CASE WHEN excluded.feed_url = ANY (a.feed_urls) THEN a.feed_urls
                      ELSE a.feed_urls || excluded.feed_url END,
  feed_url     = coalesce(a.feed_url, excluded.feed_url),
  title        = coalesce(a.title, excluded.title),
  published_at = coalesce(a.published_at, excluded.published_at),
  description  = coalesce(a.description, excluded.description),
  updated_at   = CASE WHEN excluded.feed_url = ANY (a.feed_urls) THEN a.updated_at ELSE now() END
RETURNING url, (xmax = 0) AS inserted
