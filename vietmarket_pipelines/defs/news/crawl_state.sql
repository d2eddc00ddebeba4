INSERT INTO news_crawl_state (channel_id) VALUES (%(channel)s) ON CONFLICT (channel_id) DO NOTHING;
SELECT next_page, empty_pages, finished FROM news_crawl_state WHERE channel_id = %(channel)s
