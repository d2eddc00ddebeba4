-- The mirrored series that have not reached Convex: pending (a spent budget) or failed; NULL: every series.
SELECT series, pending, last_error, last_error_at FROM convex_mirror_state
WHERE (pending OR last_error IS NOT NULL) AND (%(series)s::text[] IS NULL OR series = ANY (%(series)s))
ORDER BY series
