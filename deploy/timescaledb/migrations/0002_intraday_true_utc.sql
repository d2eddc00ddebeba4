-- Converts intraday bars written by the old system (Vietnam wall-clock time stored as if UTC)
-- to the true UTC instant of the bar's open: ts - 7 h.
--
-- GUARD: it is the data itself.  Vietnamese sessions run 09:00-15:00 ICT = 02:00-08:00Z, so a
-- correct intraday bar never has a UTC time of day in [09:00, 15:00); an old-style bar always
-- does.  Only those rows move, and once moved they leave that window, so running this file twice
-- (through the runner or by hand with psql) shifts nothing twice.  Where a correct bar already
-- exists at the shifted key, the correct bar is kept and the old-style duplicate dropped.
-- candles_latest follows through its delete and insert triggers.
DO $$
DECLARE
  tf_name text;
  moved bigint;
BEGIN
  FOREACH tf_name IN ARRAY ARRAY['1h', '15m'] LOOP
    EXECUTE format(
      'WITH old_style AS (
         DELETE FROM %1$I
          WHERE ts %% 86400000 >= 32400000   -- 09:00Z
            AND ts %% 86400000 <  54000000   -- 15:00Z
         RETURNING ticker, tf, ts, o, h, l, c, v, source)
       INSERT INTO %1$I (ticker, tf, ts, o, h, l, c, v, source)
       SELECT ticker, tf, ts - 25200000, o, h, l, c, v, source FROM old_style
       ON CONFLICT (ticker, tf, ts) DO NOTHING', 'candles_' || tf_name);
    GET DIAGNOSTICS moved = ROW_COUNT;
    RAISE NOTICE '0002: shifted % % bars from ICT-as-UTC to true UTC', moved, tf_name;
  END LOOP;
END
$$;
