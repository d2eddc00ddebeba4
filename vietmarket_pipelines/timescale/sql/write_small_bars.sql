-- A small batch (a latest tick's few bars) in one statement ({table}); prepared per connection
-- with $1 ticker, $2 tf, $3 source, $4 ts[], $5..$9 o[], h[], l[], c[], v[].  Revised bars go
-- through the upsert, new ones through a plain INSERT, as for a staged batch: the two sets are
-- disjoint in the statement's snapshot, taken after the series lock.  Returns (updated, inserted).
WITH batch AS (
  SELECT * FROM unnest($4::bigint[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
           AS s(ts, o, h, l, c, v)
), revised AS (
  INSERT INTO {table} AS t (ticker, tf, ts, o, h, l, c, v, source)
  SELECT $1, $2, s.ts, s.o, s.h, s.l, s.c, s.v, $3
    FROM batch s
    JOIN {table} old
      ON old.ticker = $1 AND old.tf = $2 AND old.ts = s.ts
   WHERE (old.o, old.h, old.l, old.c, old.v, old.source) IS DISTINCT FROM (s.o, s.h, s.l, s.c, s.v, $3)
  ON CONFLICT (ticker, tf, ts) DO UPDATE
     SET o = excluded.o, h = excluded.h, l = excluded.l, c = excluded.c, v = excluded.v,
         source = excluded.source, ingested_at = now()
   WHERE (t.o, t.h, t.l, t.c, t.v, t.source)
         IS DISTINCT FROM (excluded.o, excluded.h, excluded.l, excluded.c, excluded.v, excluded.source)
  RETURNING 1
), added AS (
  INSERT INTO {table} (ticker, tf, ts, o, h, l, c, v, source)
  SELECT $1, $2, s.ts, s.o, s.h, s.l, s.c, s.v, $3
    FROM batch s
   WHERE NOT EXISTS (
           SELECT 1 FROM {table} t
            WHERE t.ticker = $1 AND t.tf = $2 AND t.ts = s.ts)
  RETURNING 1
)
SELECT (SELECT count(*) FROM revised), (SELECT count(*) FROM added);
