-- ---------------------------------------------------------------------------------------------
-- candles_latest's changes on the `candles_latest` channel, for the History API's live stream
-- (GET /stream/latest).  schema.sql holds this text as one section and
-- migrations/0006_candles_latest_notify.sql is the same text (a test holds them equal).  Every
-- statement is idempotent.
-- ---------------------------------------------------------------------------------------------

-- Statement-level, on candles_latest itself: a whole-market write changes one row per series, and
-- no-op rewrites change none (vm_candles_latest_after_write skips identical bars), so a statement
-- costs one pass over its changed rows and a handful of notifications.  The payload is a JSON
-- array of [ticker, tf, ts] (ts as the candle tables define it), at most 150 series per
-- notification: 150 x the longest item (39 bytes) stays under NOTIFY's 8000-byte payload limit.
CREATE OR REPLACE FUNCTION vm_candles_latest_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  payload text;
BEGIN
  FOR payload IN
    SELECT '[' || string_agg(json_build_array(ticker, tf, ts)::text, ',') || ']'
      FROM (SELECT ticker, tf, ts, (row_number() OVER () - 1) / 150 AS chunk FROM changed) c
     GROUP BY chunk
  LOOP
    PERFORM pg_notify('candles_latest', payload);
  END LOOP;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER candles_latest_notify_insert AFTER INSERT ON candles_latest
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_latest_notify();
CREATE OR REPLACE TRIGGER candles_latest_notify_update AFTER UPDATE ON candles_latest
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_latest_notify();
