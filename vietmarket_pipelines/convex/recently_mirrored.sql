-- Series that reached Convex within the last `seconds` and have nothing outstanding.
SELECT series FROM convex_mirror_state
WHERE series = ANY (%(series)s) AND NOT pending AND last_error IS NULL
  AND mirrored_at > now() - make_interval(secs => %(seconds)s)
