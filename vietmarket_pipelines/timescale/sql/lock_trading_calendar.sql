-- One refresh at a time (a tick's three runs start together); released at commit or rollback.
SELECT pg_advisory_xact_lock(hashtext('vietmarket.trading_calendar'));
