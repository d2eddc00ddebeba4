-- When the calendar was last refreshed, if ever.
SELECT refreshed_at FROM trading_calendar_refresh;
