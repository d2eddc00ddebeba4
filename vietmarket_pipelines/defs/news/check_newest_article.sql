SELECT max(published_at) FROM articles WHERE fetch_status = 'fetched'
