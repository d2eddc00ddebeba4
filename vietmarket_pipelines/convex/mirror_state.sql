SELECT series, slice_hash, watermark FROM convex_mirror_state WHERE series = ANY (%(series)s)
