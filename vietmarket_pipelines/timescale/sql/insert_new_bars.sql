-- Staged bars the series does not have yet ({table}); prepared per connection with
-- $1 ticker, $2 tf, $3 source.  A plain INSERT costs what COPY costs;
-- ON CONFLICT's speculative insertion would add a quarter for bars that cannot conflict.
INSERT INTO {table} (ticker, tf, ts, o, h, l, c, v, source)
SELECT $1, $2, s.ts, s.o, s.h, s.l, s.c, s.v, $3
  FROM candle_staging s
 WHERE NOT EXISTS (
         SELECT 1 FROM {table} t
          WHERE t.ticker = $1 AND t.tf = $2 AND t.ts = s.ts);
