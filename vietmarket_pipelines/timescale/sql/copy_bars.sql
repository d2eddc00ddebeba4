-- A batch that cannot conflict (nothing stored in its range, the series locked) goes straight into
-- {table} at COPY speed; the rows are binary_copy(series, whole_rows=True).
COPY {table} (ticker, tf, ts, o, h, l, c, v, source) FROM STDIN WITH (FORMAT binary)
