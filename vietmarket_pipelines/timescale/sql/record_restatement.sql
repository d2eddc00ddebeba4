-- One series_restatements row per replaced series, in the replacement's own transaction, so the
-- row exists exactly when the new bars do.  detected_at is the transaction's time, as the
-- replaced bars' ingested_at.
INSERT INTO series_restatements (ticker, tf, source, factor, estimated_ex_date, bars_replaced, detail)
VALUES (%(ticker)s, %(tf)s, %(source)s, %(factor)s, %(estimated_ex_date)s, %(bars_replaced)s, %(detail)s);
