-- Staged bars whose stored values differ ({table}): the upsert proper.  Only revised bars reach
-- the INSERT, so a re-upsert of unchanged history is one join and no writes; IS DISTINCT FROM
-- keeps every unchanged row, and its ingested_at, untouched.
INSERT INTO {table} AS t (ticker, tf, ts, o, h, l, c, v, source)
SELECT $1, $2, s.ts, s.o, s.h, s.l, s.c, s.v, $3
  FROM candle_staging s
  JOIN {table} old
    ON old.ticker = $1 AND old.tf = $2 AND old.ts = s.ts
 WHERE (old.o, old.h, old.l, old.c, old.v, old.source) IS DISTINCT FROM (s.o, s.h, s.l, s.c, s.v, $3)
ON CONFLICT (ticker, tf, ts) DO UPDATE
   SET o = excluded.o, h = excluded.h, l = excluded.l, c = excluded.c, v = excluded.v,
       source = excluded.source, ingested_at = now()
 WHERE (t.o, t.h, t.l, t.c, t.v, t.source)
       IS DISTINCT FROM (excluded.o, excluded.h, excluded.l, excluded.c, excluded.v, excluded.source);
