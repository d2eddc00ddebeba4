-- What each series looked like when it last reached Convex, and whether it did so within the last
-- `recent_s` seconds with nothing outstanding (such a series waits for a later run).
SELECT series, slice_hash, watermark,
       NOT pending AND last_error IS NULL AND mirrored_at > now() - make_interval(secs => %(recent_s)s)
         AS recent
FROM convex_mirror_state
WHERE series = ANY (%(series)s)
