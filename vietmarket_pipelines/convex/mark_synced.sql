INSERT INTO convex_mirror_state AS m (series, slice_hash, watermark, mirrored_at, pending, last_error, last_error_at)
SELECT unnest(%(series)s::text[]), unnest(%(hashes)s::text[]), %(watermark)s, now(), false, NULL, NULL
ON CONFLICT (series) DO UPDATE SET
  slice_hash = excluded.slice_hash, watermark = excluded.watermark, mirrored_at = now(),
  pending = false, last_error = NULL, last_error_at = NULL
