SELECT series, slice_hash, watermark, mirrored_at FROM convex_mirror_state WHERE series = ANY (%(series)s)
