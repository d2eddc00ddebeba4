-- Copies the deployed single-table candles (renamed to candles_legacy by schema.sql) into the
-- per-timeframe hypertables.  Rows already present win; candles_legacy is kept for the operator
-- to drop once satisfied (see README.md).  A no-op on a database that never had the old table.
DO $$
DECLARE
  tf_name text;
  copied bigint;
BEGIN
  IF to_regclass('public.candles_legacy') IS NULL THEN
    RAISE NOTICE '0001: no candles_legacy table, nothing to adopt';
    RETURN;
  END IF;
  FOREACH tf_name IN ARRAY ARRAY['1d', '1h', '15m'] LOOP
    EXECUTE format(
      'INSERT INTO %I (ticker, tf, ts, o, h, l, c, v, source, ingested_at)
       SELECT upper(ticker), tf, ts, o, h, l, c, v, source, ingested_at
         FROM candles_legacy WHERE tf = $1
       ON CONFLICT (ticker, tf, ts) DO NOTHING', 'candles_' || tf_name)
      USING tf_name;
    GET DIAGNOSTICS copied = ROW_COUNT;
    RAISE NOTICE '0001: adopted % % bars from candles_legacy', copied, tf_name;
  END LOOP;
END
$$;
