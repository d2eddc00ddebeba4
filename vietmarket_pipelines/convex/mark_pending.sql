-- Series whose slice changed but did not reach Convex: the sync check turns red until a later run
-- sends them.  The stored hash and watermark stay, so that run sends everything since.
INSERT INTO convex_mirror_state AS m (series, pending, last_error, last_error_at)
SELECT unnest(%(series)s::text[]), true, %(error)s, CASE WHEN %(error)s IS NULL THEN NULL ELSE now() END
ON CONFLICT (series) DO UPDATE SET
  pending = true,
  last_error = coalesce(excluded.last_error, m.last_error),
  last_error_at = coalesce(excluded.last_error_at, m.last_error_at)
