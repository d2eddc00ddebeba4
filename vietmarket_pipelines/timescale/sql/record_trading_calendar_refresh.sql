INSERT INTO trading_calendar_refresh (id, refreshed_at, source) VALUES (true, %(at)s, %(source)s)
ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at, source = excluded.source;
