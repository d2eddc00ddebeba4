UPDATE news_crawl_state
SET next_page = %(next_page)s, empty_pages = %(empty_pages)s, finished = %(finished)s, updated_at = now()
WHERE channel_id = %(channel)s
