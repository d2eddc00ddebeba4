-- ---------------------------------------------------------------------------------------------
-- Every change to the relations a /candles page is read from, on the `candles_changed` channel,
-- for the History API's page cache (history_api/page_cache.py).  schema.sql holds this text as
-- one section and migrations/0007_candles_changed_notify.sql is the same text (a test holds them
-- equal).  Every statement is idempotent.
-- ---------------------------------------------------------------------------------------------

-- Statement-level with transition tables, like candles_latest's triggers: one pass over the
-- statement's rows (a hash aggregate by ticker), and a handful of notifications, however many
-- bars it wrote.  The payload is a JSON array of [ticker, relation, min_ts, max_ts], one item per
-- ticker the statement touched: relation is TG_ARGV[0] ('1d', '1h', '15m' or 'daily_prices') and
-- [min_ts, max_ts] the span of ts it changed (for an UPDATE, the old rows' ts and the new ones').
-- Items are cut into notifications by their running length, so none reaches NOTIFY's 8000-byte
-- payload limit (a limit that, if hit, would fail the writer's statement) whatever the tickers.
CREATE OR REPLACE FUNCTION vm_candles_changed_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  items text[];
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(json_build_array(ticker, TG_ARGV[0], lo, hi)::text) INTO items
      FROM (SELECT ticker, min(ts) AS lo, max(ts) AS hi FROM new_rows GROUP BY ticker) s;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(json_build_array(ticker, TG_ARGV[0], lo, hi)::text) INTO items
      FROM (SELECT ticker, min(ts) AS lo, max(ts) AS hi FROM old_rows GROUP BY ticker) s;
  ELSE
    SELECT array_agg(json_build_array(ticker, TG_ARGV[0], lo, hi)::text) INTO items
      FROM (SELECT ticker, min(ts) AS lo, max(ts) AS hi
              FROM (SELECT ticker, ts FROM new_rows UNION ALL SELECT ticker, ts FROM old_rows) u
             GROUP BY ticker) s;
  END IF;
  FOR payload IN
    SELECT '[' || string_agg(item, ',') || ']'
      FROM (SELECT item, sum(length(item) + 1) OVER (ORDER BY n) / 7000 AS chunk
              FROM unnest(items) WITH ORDINALITY AS i (item, n)) c
     GROUP BY chunk
  LOOP
    PERFORM pg_notify('candles_changed', payload);
  END LOOP;
  RETURN NULL;
END
$fn$;

-- Corporate actions reprice a ticker's raw intraday bars before each ex-date: whichever rows
-- changed, every raw page of the ticker may have, so the items carry no span (null, null).
CREATE OR REPLACE FUNCTION vm_corporate_actions_changed_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  items text[];
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(json_build_array(ticker, 'corporate_actions', NULL, NULL)::text) INTO items
      FROM (SELECT DISTINCT ticker FROM new_rows) s;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(json_build_array(ticker, 'corporate_actions', NULL, NULL)::text) INTO items
      FROM (SELECT DISTINCT ticker FROM old_rows) s;
  ELSE
    SELECT array_agg(json_build_array(ticker, 'corporate_actions', NULL, NULL)::text) INTO items
      FROM (SELECT ticker FROM new_rows UNION SELECT ticker FROM old_rows) s;
  END IF;
  FOR payload IN
    SELECT '[' || string_agg(item, ',') || ']'
      FROM (SELECT item, sum(length(item) + 1) OVER (ORDER BY n) / 7000 AS chunk
              FROM unnest(items) WITH ORDINALITY AS i (item, n)) c
     GROUP BY chunk
  LOOP
    PERFORM pg_notify('candles_changed', payload);
  END LOOP;
  RETURN NULL;
END
$fn$;

-- TRUNCATE has no transition table: it names the whole relation, every ticker (ticker null).
CREATE OR REPLACE FUNCTION vm_candles_truncated_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('candles_changed', json_build_array(json_build_array(NULL, TG_ARGV[0], NULL, NULL))::text);
  RETURN NULL;
END
$fn$;

DO $$
DECLARE
  rel text[];
BEGIN
  FOREACH rel SLICE 1 IN ARRAY ARRAY[['candles_1d', '1d'], ['candles_1h', '1h'], ['candles_15m', '15m'],
                                     ['daily_prices', 'daily_prices']] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_changed_on_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_changed_notify(%L)', rel[1], rel[2]);
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_changed_on_update AFTER UPDATE ON %I
                    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_changed_notify(%L)', rel[1], rel[2]);
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_changed_on_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_changed_notify(%L)', rel[1], rel[2]);
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_changed_on_truncate AFTER TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_truncated_notify(%L)', rel[1], rel[2]);
  END LOOP;
END
$$;

CREATE OR REPLACE TRIGGER corporate_actions_changed_on_insert AFTER INSERT ON corporate_actions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vm_corporate_actions_changed_notify();
CREATE OR REPLACE TRIGGER corporate_actions_changed_on_update AFTER UPDATE ON corporate_actions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vm_corporate_actions_changed_notify();
CREATE OR REPLACE TRIGGER corporate_actions_changed_on_delete AFTER DELETE ON corporate_actions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION vm_corporate_actions_changed_notify();
CREATE OR REPLACE TRIGGER corporate_actions_changed_on_truncate AFTER TRUNCATE ON corporate_actions
  FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_truncated_notify('corporate_actions');
