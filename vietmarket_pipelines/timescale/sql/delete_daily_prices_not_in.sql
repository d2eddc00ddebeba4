-- A replaced history: the ticker's stored rows on dates the new fetch no longer has.
DELETE FROM daily_prices WHERE ticker = %(ticker)s AND NOT (ts = ANY (%(ts)s));
