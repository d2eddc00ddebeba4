-- Serializes writers of one (ticker, tf) series for the rest of the transaction, so the bars
-- found absent below stay absent until this transaction inserts them.
SELECT pg_advisory_xact_lock(hashtextextended(%(ticker)s || '|' || %(tf)s, 20260213));
