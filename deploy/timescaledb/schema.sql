-- VietMarket canonical schema: candles by timeframe, candles_latest, symbols, news, roles.
--
-- Applying this file twice is a no-op. Changes after it are numbered files in migrations/,
-- applied in order and recorded in schema_migrations by `vietmarket-db migrate`.
--
-- TIMESTAMP MEANING (one meaning per column, everywhere in the platform)
--   candles*.ts        bigint, unix milliseconds.
--                      1d:        00:00 UTC of the bar's trading date, where the trading date is
--                                 the calendar date in Asia/Ho_Chi_Minh.  VCB 2026-02-13 -> 1770940800000.
--                      1h, 15m:   the true UTC instant at which the bar opens.
--                                 The 14:45 ICT bar -> 07:45Z.  (The old system stored wall-clock
--                                 ICT labelled as UTC; migrations/0002 converts such rows.)
--   symbols.updated_at bigint unix ms (kept for old readers); every other time column is timestamptz.
--
-- STORAGE LAYOUT
--   One hypertable per timeframe, each with a chunk interval sized for that timeframe's density,
--   behind a `candles` view that keeps the old table's name and columns for readers.  With one
--   30-day-chunked table, planning the newest-first paging query over ~200 chunks cost 37 ms while
--   executing it cost 2 ms.  Each interval below holds roughly 4M bars of a 1,600-ticker market,
--   so a series spans only a handful of chunks (see deploy/timescaledb/README.md for the numbers).
--
--   The primary key (ticker, tf, ts) is the paging index, and it INCLUDEs the bar's values, so the
--   newest-first page is a backward index-only scan that never visits the heap.  A second
--   (ticker, tf, ts DESC) index, as deployed, would duplicate every insert for no gain.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RETURN;
  ELSIF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    RAISE NOTICE 'timescaledb is not installed on this server: candles_1d, candles_1h and candles_15m are created as plain tables';
  ELSIF current_setting('shared_preload_libraries') NOT LIKE '%timescaledb%' THEN
    RAISE NOTICE 'timescaledb is installed but not in shared_preload_libraries: candles_* are created as plain tables';
  ELSE
    CREATE EXTENSION timescaledb;
  END IF;
END
$$;

-- Group roles.  Login roles are created per deployment and granted one of these.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vietmarket_writer') THEN
    CREATE ROLE vietmarket_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vietmarket_reader') THEN
    CREATE ROLE vietmarket_reader NOLOGIN;
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- The deployed system had a plain `candles` table.  Keep its rows for migrations/0001 and free
-- the name for the view.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('public.candles') AND relkind IN ('r', 'p')) THEN
    ALTER TABLE public.candles RENAME TO candles_legacy;
    RAISE NOTICE 'renamed the deployed candles table to candles_legacy; migration 0001 copies its rows';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Candles, one hypertable per timeframe
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION vm_create_candle_table(tf text, chunk_ms bigint, ts_grid_ms bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  tbl text := 'candles_' || tf;
BEGIN
  EXECUTE format($ddl$
    CREATE TABLE IF NOT EXISTS %1$I (
      ticker      text             NOT NULL CHECK (ticker ~ '^[A-Z0-9]{1,12}$'),
      tf          text             NOT NULL DEFAULT %2$L CHECK (tf = %2$L),
      ts          bigint           NOT NULL CHECK (ts %% %3$s = 0),
      o           double precision NOT NULL,
      h           double precision NOT NULL,
      l           double precision NOT NULL,
      c           double precision NOT NULL,
      v           double precision,
      source      text,
      ingested_at timestamptz      NOT NULL DEFAULT now(),
      CONSTRAINT %4$I PRIMARY KEY (ticker, tf, ts) INCLUDE (o, h, l, c, v, source)
    )$ddl$, tbl, tf, ts_grid_ms, tbl || '_pkey');
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable(tbl::regclass, by_range('ts', chunk_ms),
                              create_default_indexes => false, if_not_exists => true);
    PERFORM set_chunk_time_interval(tbl::regclass, chunk_ms);
  END IF;
END
$fn$;

-- Chunk intervals in ms: ~4M bars per chunk at 1,600 tickers (250 sessions a year;
-- 5 hourly and 18 fifteen-minute bars a session).
SELECT vm_create_candle_table('1d',  315360000000, 86400000);  -- 10 years
SELECT vm_create_candle_table('1h',   63072000000,  3600000);  -- 2 years
SELECT vm_create_candle_table('15m',  31536000000,   900000);  -- 1 year
DROP FUNCTION vm_create_candle_table(text, bigint, bigint);

CREATE OR REPLACE VIEW candles AS
  SELECT ticker, tf, ts, o, h, l, c, v, source, ingested_at FROM candles_1d
  UNION ALL
  SELECT ticker, tf, ts, o, h, l, c, v, source, ingested_at FROM candles_1h
  UNION ALL
  SELECT ticker, tf, ts, o, h, l, c, v, source, ingested_at FROM candles_15m;
COMMENT ON VIEW candles IS
  'All timeframes, same columns as the deployed candles table. ts: unix ms; 1d = 00:00 UTC of the trading date, intraday = true UTC instant of the bar open.';

-- ---------------------------------------------------------------------------------------------
-- candles_latest: the newest bar of every (ticker, tf), maintained by triggers on every write path
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS candles_latest (
  ticker     text             NOT NULL,
  tf         text             NOT NULL CHECK (tf IN ('1d', '1h', '15m')),
  ts         bigint           NOT NULL,
  o          double precision NOT NULL,
  h          double precision NOT NULL,
  l          double precision NOT NULL,
  c          double precision NOT NULL,
  v          double precision,
  source     text,
  updated_at timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (ticker, tf)
);
CREATE INDEX IF NOT EXISTS candles_latest_tf_ts_idx ON candles_latest (tf, ts DESC);

-- An older bar never replaces a newer latest, whoever writes.  Deletes are the one legitimate
-- way back, handled by vm_candles_latest_after_delete with DELETE + INSERT.
CREATE OR REPLACE FUNCTION vm_candles_latest_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.ts < OLD.ts THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER candles_latest_forward_only BEFORE UPDATE ON candles_latest
  FOR EACH ROW EXECUTE FUNCTION vm_candles_latest_forward_only();

-- Statement-level with transition tables: one set-based upsert per statement, so a bulk write of
-- millions of bars costs one pass, not a trigger call per row.
CREATE OR REPLACE FUNCTION vm_candles_latest_after_write() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  -- max() by hash aggregate, then a join back: no sort of the whole statement's rows.
  INSERT INTO candles_latest AS cl (ticker, tf, ts, o, h, l, c, v, source)
  SELECT w.ticker, w.tf, w.ts, w.o, w.h, w.l, w.c, w.v, w.source
    FROM (SELECT ticker, tf, max(ts) AS ts FROM written GROUP BY ticker, tf) newest
    JOIN written w USING (ticker, tf, ts)
  ON CONFLICT (ticker, tf) DO UPDATE
     SET ts = excluded.ts, o = excluded.o, h = excluded.h, l = excluded.l, c = excluded.c,
         v = excluded.v, source = excluded.source, updated_at = now()
   WHERE excluded.ts >= cl.ts
     AND (cl.ts, cl.o, cl.h, cl.l, cl.c, cl.v, cl.source)
         IS DISTINCT FROM (excluded.ts, excluded.o, excluded.h, excluded.l, excluded.c, excluded.v, excluded.source);
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION vm_candles_latest_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  affected record;
BEGIN
  -- Only series whose latest bar was deleted need a new latest, read back from the hypertable.
  FOR affected IN
    SELECT DISTINCT cl.ticker, cl.tf
      FROM deleted d JOIN candles_latest cl USING (ticker, tf)
     WHERE d.ts = cl.ts
  LOOP
    DELETE FROM candles_latest WHERE ticker = affected.ticker AND tf = affected.tf;
    EXECUTE format(
      'INSERT INTO candles_latest (ticker, tf, ts, o, h, l, c, v, source)
       SELECT ticker, tf, ts, o, h, l, c, v, source FROM %I
        WHERE ticker = $1 AND tf = $2 ORDER BY ts DESC LIMIT 1', TG_TABLE_NAME)
      USING affected.ticker, affected.tf;
  END LOOP;
  RETURN NULL;
END
$fn$;

DO $$
DECLARE
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY ARRAY['candles_1d', 'candles_1h', 'candles_15m'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_latest_on_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS written
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_latest_after_write()', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_latest_on_update AFTER UPDATE ON %I REFERENCING NEW TABLE AS written
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_latest_after_write()', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER candles_latest_on_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS deleted
                    FOR EACH STATEMENT EXECUTE FUNCTION vm_candles_latest_after_delete()', tbl);
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Universe
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS symbols (
  ticker        text PRIMARY KEY CHECK (ticker ~ '^[A-Z0-9]{1,12}$'),
  name          text,
  exchange      text CHECK (exchange IN ('HOSE', 'HNX', 'UPCOM')),
  active        boolean NOT NULL DEFAULT true,
  updated_at    bigint NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint,  -- unix ms
  kind          text NOT NULL DEFAULT 'stock' CHECK (kind IN ('stock', 'index')),
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS symbols_exchange_active_idx ON symbols (exchange, active);

-- ---------------------------------------------------------------------------------------------
-- News
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS articles (
  url            text PRIMARY KEY,          -- canonical URL (lower-case host, https, no tracking params)
  title          text,
  published_at   timestamptz,
  source         text NOT NULL DEFAULT 'vietstock',
  feed_url       text,                      -- first feed the article was seen in
  feed_urls      text[] NOT NULL DEFAULT '{}',
  description    text,
  fetch_status   text NOT NULL DEFAULT 'pending' CHECK (fetch_status IN ('pending', 'fetched', 'failed')),
  fetch_error    text,
  fetch_attempts integer NOT NULL DEFAULT 0,
  next_fetch_at  timestamptz,
  text           text,
  content_sha256 text,
  word_count     integer,
  lang           text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  fetched_at     timestamptz
);
CREATE INDEX IF NOT EXISTS articles_published_idx ON articles (published_at DESC, url DESC);
CREATE INDEX IF NOT EXISTS articles_pending_idx ON articles (next_fetch_at) WHERE fetch_status <> 'fetched';
CREATE INDEX IF NOT EXISTS articles_search_idx ON articles
  USING gin (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, '')));

CREATE TABLE IF NOT EXISTS article_symbols (
  article_url text NOT NULL REFERENCES articles (url) ON DELETE CASCADE,
  ticker      text NOT NULL,
  confidence  real NOT NULL CHECK (confidence > 0 AND confidence <= 1),
  method      text NOT NULL,
  PRIMARY KEY (article_url, ticker)
);
CREATE INDEX IF NOT EXISTS article_symbols_ticker_idx ON article_symbols (ticker);

CREATE TABLE IF NOT EXISTS news_crawl_state (
  channel_id  integer PRIMARY KEY,
  next_page   integer NOT NULL DEFAULT 1,
  empty_pages integer NOT NULL DEFAULT 0,
  finished    boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The next free send time of each provider, shared by every run worker (providers/pacing.py):
-- the request budget is per provider, not per process.
CREATE TABLE IF NOT EXISTS provider_pacing (
  provider text        PRIMARY KEY,
  next_at  timestamptz NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Convex mirror bookkeeping (vietmarket_pipelines/convex/mirror.py): what each mirrored slice
-- looked like when it last reached Convex, and the calls spent per Vietnam-time day.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS convex_mirror_state (
  series        text PRIMARY KEY,          -- 'candles:<ticker>:<tf>' or 'articles:latest'
  slice_hash    text,                      -- md5 of the slice as last mirrored
  watermark     timestamptz,               -- the database time the mirrored slice was read at
  mirrored_at   timestamptz,
  pending       boolean NOT NULL DEFAULT false,  -- changed, not yet in Convex
  last_error    text,
  last_error_at timestamptz
);

CREATE TABLE IF NOT EXISTS convex_budget (
  day   date PRIMARY KEY,                  -- Asia/Ho_Chi_Minh calendar day
  calls integer NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Privileges: the writer ingests, the reader (History API) can SELECT and nothing else.
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO vietmarket_writer, vietmarket_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO vietmarket_writer;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM vietmarket_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO vietmarket_reader;
DO $$
BEGIN
  -- Temporary tables are the writer's COPY staging area; the reader must not get even those.
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT TEMPORARY, CONNECT ON DATABASE %I TO vietmarket_writer, vietmarket_reader', current_database());
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM vietmarket_reader', current_database());
END
$$;
