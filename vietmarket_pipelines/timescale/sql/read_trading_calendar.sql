-- Every stored day's verdict, oldest first.
SELECT trading_date, traded FROM trading_calendar ORDER BY trading_date;
