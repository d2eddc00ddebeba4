-- Serializes writers of one ticker's daily_prices for the transaction (readers are not blocked).
SELECT pg_advisory_xact_lock(hashtext('daily_prices:' || %(ticker)s));
