-- Upserts the staged bars of one (ticker, tf) series into its hypertable ({table}).
-- The anti-join sends only new or changed bars to the INSERT: a re-upsert of unchanged history
-- is one ordered scan of the series instead of a speculative insertion per bar.  ON CONFLICT
-- with IS DISTINCT FROM still guards against a concurrent writer and keeps unchanged rows (and
-- their ingested_at) untouched.
WITH changed AS (
  SELECT s.ts, s.o, s.h, s.l, s.c, s.v
    FROM candle_staging s
    LEFT JOIN {table} t
      ON t.ticker = %(ticker)s AND t.tf = %(tf)s AND t.ts = s.ts
   WHERE t.ts IS NULL
      OR (t.o, t.h, t.l, t.c, t.v, t.source) IS DISTINCT FROM (s.o, s.h, s.l, s.c, s.v, %(source)s)
), written AS (
  INSERT INTO {table} AS t (ticker, tf, ts, o, h, l, c, v, source)
  SELECT %(ticker)s, %(tf)s, ts, o, h, l, c, v, %(source)s FROM changed
  ON CONFLICT (ticker, tf, ts) DO UPDATE
     SET o = excluded.o, h = excluded.h, l = excluded.l, c = excluded.c, v = excluded.v,
         source = excluded.source, ingested_at = now()
   WHERE (t.o, t.h, t.l, t.c, t.v, t.source)
         IS DISTINCT FROM (excluded.o, excluded.h, excluded.l, excluded.c, excluded.v, excluded.source)
  RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
  FROM written;
