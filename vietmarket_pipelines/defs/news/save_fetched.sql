-- A fetched page: the page's title and publish time win over the feed's; the feed's time stays
-- when the page has none.
UPDATE articles SET
  fetch_status   = 'fetched',
  fetch_error    = NULL,
  fetch_attempts = fetch_attempts + 1,
  next_fetch_at  = NULL,
  title          = %(title)s,
  published_at   = coalesce(%(published_at)s, published_at),
  text           = %(text)s,
  content_sha256 = %(content_sha256)s,
  word_count     = %(word_count)s,
  lang           = %(lang)s,
  fetched_at     = now(),
  updated_at     = now()
WHERE url = %(url)s
RETURNING published_at
