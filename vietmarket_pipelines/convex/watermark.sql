-- The point up to which this snapshot has seen every write: now(), or the start of the oldest
-- transaction still open in this role (the writers share it), because a bar's ingested_at is its
-- transaction's start and such a transaction may commit after this snapshot was taken.
SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity
                     WHERE usename = current_user AND pid <> pg_backend_pid() AND xact_start IS NOT NULL))
