-- VietMarket canonical schema: candles by timeframe, candles_latest, symbols, news, daily prices,
-- corporate actions, roles.
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
--   daily_prices.ts    bigint, unix ms: 00:00 UTC of the trading date, exactly as a 1d candle.
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
    RAISE NOTICE 'timescaledb is not installed on this server: candles_1d, candles_1h, candles_15m and daily_prices are created as plain tables';
  ELSIF current_setting('shared_preload_libraries') NOT LIKE '%timescaledb%' THEN
    RAISE NOTICE 'timescaledb is installed but not in shared_preload_libraries: candles_* and daily_prices are created as plain tables';
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
-- Prices a quant can trust: daily prices on both bases, corporate actions, series restatements.
-- schema.sql holds this text as one section and migrations/0003_prices_and_corporate_actions.sql
-- is the same text (a test holds them equal), so a fresh database and a deployed one migrated
-- from 0002 get the same catalog.  Every statement is idempotent: the runner applies schema.sql,
-- with this section, before it applies 0003 to a deployed database.
-- ---------------------------------------------------------------------------------------------

-- One row per trading day and ticker as VNDirect finfo reports it: the traded prices, the same
-- day back-adjusted for corporate actions, the day's price band and the traded volumes.
CREATE TABLE IF NOT EXISTS daily_prices (
  ticker      text             NOT NULL CHECK (ticker ~ '^[A-Z0-9]{1,12}$'),
  ts          bigint           NOT NULL CHECK (ts % 86400000 = 0),
  exchange    text             CHECK (exchange IN ('HOSE', 'HNX', 'UPCOM')),
  open        double precision NOT NULL CHECK (open > 0),
  high        double precision NOT NULL,
  low         double precision NOT NULL CHECK (low > 0),
  close       double precision NOT NULL CHECK (close > 0),
  average     double precision CHECK (average > 0),
  ad_open     double precision NOT NULL CHECK (ad_open > 0),
  ad_high     double precision NOT NULL,
  ad_low      double precision NOT NULL CHECK (ad_low > 0),
  ad_close    double precision NOT NULL CHECK (ad_close > 0),
  ad_average  double precision CHECK (ad_average > 0),
  reference   double precision CHECK (reference > 0),
  ceiling     double precision,
  floor       double precision CHECK (floor > 0),
  nm_volume   double precision NOT NULL CHECK (nm_volume >= 0),
  nm_value    double precision NOT NULL CHECK (nm_value >= 0),
  pt_volume   double precision NOT NULL CHECK (pt_volume >= 0),
  pt_value    double precision NOT NULL CHECK (pt_value >= 0),
  source      text             NOT NULL,
  ingested_at timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT daily_prices_pkey PRIMARY KEY (ticker, ts),
  CONSTRAINT daily_prices_raw_range CHECK (low <= open AND open <= high AND low <= close AND close <= high),
  CONSTRAINT daily_prices_adjusted_range
    CHECK (ad_low <= ad_open AND ad_open <= ad_high AND ad_low <= ad_close AND ad_close <= ad_high),
  CONSTRAINT daily_prices_band_order CHECK (floor <= reference AND reference <= ceiling),
  -- A stock's band is all there or all absent; an index (no exchange) has none.
  CONSTRAINT daily_prices_band_whole
    CHECK ((reference IS NULL) = (ceiling IS NULL) AND (reference IS NULL) = (floor IS NULL)),
  CONSTRAINT daily_prices_index_has_no_band CHECK (exchange IS NOT NULL OR reference IS NULL),
  CONSTRAINT daily_prices_averages_together CHECK ((average IS NULL) = (ad_average IS NULL))
);

-- Chunked like candles_1d, for the same reason: a series spans a handful of chunks, so a page
-- plans fast.  Without TimescaleDB it stays a plain table (the NOTICE at the top says so).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable('daily_prices'::regclass, by_range('ts', 315360000000),
                              create_default_indexes => false, if_not_exists => true);  -- 10 years
    PERFORM set_chunk_time_interval('daily_prices'::regclass, 315360000000);
  END IF;
END
$$;

COMMENT ON TABLE daily_prices IS
  'One row per (ticker, trading date): raw (traded) and adjusted prices, the price band and volumes, from VNDirect finfo stock_prices (stocks) or vnmarket_prices (indices).';
COMMENT ON COLUMN daily_prices.ticker IS 'Upper-case symbol: a stock (VCB) or an index (VNINDEX, VN30, HNXINDEX, UPCOMINDEX).';
COMMENT ON COLUMN daily_prices.ts IS 'Unix ms of 00:00 UTC of the trading date (the date in Asia/Ho_Chi_Minh); the same meaning as a 1d candle''s ts.';
COMMENT ON COLUMN daily_prices.exchange IS 'HOSE, HNX or UPCOM as finfo''s floor field says on that date; NULL for an index.';
COMMENT ON COLUMN daily_prices.open IS 'Raw: the traded opening price. Thousands of VND for stocks, points for indices.';
COMMENT ON COLUMN daily_prices.high IS 'Raw: the traded high (order matching). Thousands of VND for stocks, points for indices.';
COMMENT ON COLUMN daily_prices.low IS 'Raw: the traded low (order matching). Thousands of VND for stocks, points for indices.';
COMMENT ON COLUMN daily_prices.close IS 'Raw: the traded closing price. Thousands of VND for stocks, points for indices.';
COMMENT ON COLUMN daily_prices.average IS 'Raw: the day''s volume-weighted average price, thousands of VND; NULL for an index (finfo sends none).';
COMMENT ON COLUMN daily_prices.ad_open IS 'Adjusted: open back-adjusted by finfo for corporate actions as of the fetch (ingested_at). Thousands of VND; equals open for an index.';
COMMENT ON COLUMN daily_prices.ad_high IS 'Adjusted: high back-adjusted by finfo as of the fetch. Thousands of VND; equals high for an index.';
COMMENT ON COLUMN daily_prices.ad_low IS 'Adjusted: low back-adjusted by finfo as of the fetch. Thousands of VND; equals low for an index.';
COMMENT ON COLUMN daily_prices.ad_close IS 'Adjusted: close back-adjusted by finfo as of the fetch. Thousands of VND; equals close for an index. ad_close / close is the date''s adjustment factor.';
COMMENT ON COLUMN daily_prices.ad_average IS 'Adjusted: average back-adjusted by finfo as of the fetch. Thousands of VND; NULL for an index.';
COMMENT ON COLUMN daily_prices.reference IS 'Raw: the day''s reference price (finfo basicPrice), thousands of VND; on an ex-date the exchange has already adjusted it. NULL for an index.';
COMMENT ON COLUMN daily_prices.ceiling IS 'Raw: the day''s ceiling price as the exchange set it (finfo ceilingPrice), thousands of VND. NULL for an index.';
COMMENT ON COLUMN daily_prices.floor IS 'Raw: the day''s floor price as the exchange set it (finfo floorPrice), thousands of VND. NULL for an index.';
COMMENT ON COLUMN daily_prices.nm_volume IS 'Order-matching volume, shares (finfo nmVolume); not adjusted.';
COMMENT ON COLUMN daily_prices.nm_value IS 'Order-matching traded value as sent by finfo (nmValue, VND); not adjusted. The unit is not documented by the source.';
COMMENT ON COLUMN daily_prices.pt_volume IS 'Put-through (negotiated) volume, shares (finfo ptVolume); not adjusted.';
COMMENT ON COLUMN daily_prices.pt_value IS 'Put-through traded value as sent by finfo (ptValue, VND); not adjusted. The unit is not documented by the source.';
COMMENT ON COLUMN daily_prices.source IS 'Provider name, e.g. finfo.';
COMMENT ON COLUMN daily_prices.ingested_at IS 'When the row last changed; an identical re-fetch leaves it alone, so a new value here after an ex-date marks a restated adjusted basis.';

-- A corporate action (split, stock dividend, bonus shares, cash dividend, rights issue), from a
-- step in finfo's adjustment factor or from an announcement.
CREATE TABLE IF NOT EXISTS corporate_actions (
  id                bigserial        PRIMARY KEY,
  ticker            text             NOT NULL CHECK (ticker ~ '^[A-Z0-9]{1,12}$'),
  exchange          text             CHECK (exchange IN ('HOSE', 'HNX', 'UPCOM')),
  ex_date           date,
  record_date       date,
  pay_date          date,
  headline          text,
  event_type        text,
  source            text             NOT NULL,
  source_url        text,
  factor            double precision CHECK (factor > 0),
  cumulative_factor double precision CHECK (cumulative_factor > 0),
  evidence          jsonb,
  ingested_at       timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT corporate_actions_ticker_ex_date_source_key UNIQUE (ticker, ex_date, source)
);
CREATE INDEX IF NOT EXISTS corporate_actions_ex_date_idx ON corporate_actions (ex_date DESC, id DESC);
CREATE INDEX IF NOT EXISTS corporate_actions_ticker_ex_date_idx ON corporate_actions (ticker, ex_date DESC, id DESC);

COMMENT ON TABLE corporate_actions IS
  'Corporate actions per ticker: the deployed system''s columns plus the price factor each one applied and how it was derived.';
COMMENT ON COLUMN corporate_actions.id IS 'Surrogate key; with ex_date the keyset-paging cursor (ex_date DESC, id DESC).';
COMMENT ON COLUMN corporate_actions.ticker IS 'Upper-case stock symbol.';
COMMENT ON COLUMN corporate_actions.exchange IS 'HOSE, HNX or UPCOM on the ex-date; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.ex_date IS 'First trading date (Asia/Ho_Chi_Minh) on which the share trades without the entitlement; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.record_date IS 'Date of the shareholder register that fixes the entitlement; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.pay_date IS 'Date the cash or shares are paid out; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.headline IS 'The announcement''s title as published; NULL for an action found only from prices.';
COMMENT ON COLUMN corporate_actions.event_type IS 'Kind of action as the source names it (e.g. stock_dividend, cash_dividend, split); NULL when unknown.';
COMMENT ON COLUMN corporate_actions.source IS 'Where the row came from, e.g. finfo (a step in adClose/close) or a news source.';
COMMENT ON COLUMN corporate_actions.source_url IS 'The announcement or API address the row was read from; NULL when none.';
COMMENT ON COLUMN corporate_actions.factor IS 'Price multiplier of this action alone: (adClose/close on the trading date before ex_date) / (adClose/close on ex_date). Raw prices before ex_date times factor are on the basis just after it; < 1 for a split, stock dividend, bonus shares or cash dividend. Unitless; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.cumulative_factor IS 'Product of factor over this and every later action of the ticker: multiplies a raw price from before ex_date onto today''s adjusted basis (equals that date''s adClose/close when finfo''s basis is today). Unitless; NULL when unknown.';
COMMENT ON COLUMN corporate_actions.evidence IS 'How the row was derived, e.g. {"before_date", "before_close", "before_ad_close", "after_date", "after_close", "after_ad_close", "before_ratio", "after_ratio"} for a factor step.';
COMMENT ON COLUMN corporate_actions.ingested_at IS 'When the row was last written.';

-- One row each time a provider rescaled history this platform had already stored: the stored
-- bars were replaced by the provider's new basis.
CREATE TABLE IF NOT EXISTS series_restatements (
  id                bigserial        PRIMARY KEY,
  ticker            text             NOT NULL CHECK (ticker ~ '^[A-Z0-9]{1,12}$'),
  tf                text             NOT NULL CHECK (tf IN ('1d', '1h', '15m')),
  source            text             NOT NULL,
  detected_at       timestamptz      NOT NULL DEFAULT now(),
  factor            double precision NOT NULL CHECK (factor > 0),
  estimated_ex_date date,
  bars_replaced     integer          NOT NULL CHECK (bars_replaced >= 0),
  detail            jsonb
);
CREATE INDEX IF NOT EXISTS series_restatements_series_idx ON series_restatements (ticker, tf, detected_at DESC);

COMMENT ON TABLE series_restatements IS
  'Each time a provider sent a stored series back on a new adjustment basis and the stored bars were replaced.';
COMMENT ON COLUMN series_restatements.id IS 'Surrogate key.';
COMMENT ON COLUMN series_restatements.ticker IS 'Upper-case symbol of the restated series.';
COMMENT ON COLUMN series_restatements.tf IS 'Timeframe of the restated series: 1d, 1h or 15m.';
COMMENT ON COLUMN series_restatements.source IS 'Provider that restated it, e.g. vci.';
COMMENT ON COLUMN series_restatements.detected_at IS 'When the restatement was detected and the bars replaced.';
COMMENT ON COLUMN series_restatements.factor IS 'New price / old price of the same bars (unitless); < 1 after a split or stock dividend.';
COMMENT ON COLUMN series_restatements.estimated_ex_date IS 'The trading date (Asia/Ho_Chi_Minh) from which the old and new series agree, i.e. the likely ex-date; NULL when it could not be placed.';
COMMENT ON COLUMN series_restatements.bars_replaced IS 'How many stored bars were replaced by the new basis.';
COMMENT ON COLUMN series_restatements.detail IS 'What was compared: the overlapping bars, their old and new closes, the spread of the ratio.';

GRANT SELECT, INSERT, UPDATE, DELETE ON daily_prices, corporate_actions, series_restatements TO vietmarket_writer;
GRANT USAGE ON SEQUENCE corporate_actions_id_seq, series_restatements_id_seq TO vietmarket_writer;
GRANT SELECT ON daily_prices, corporate_actions, series_restatements TO vietmarket_reader;

-- ---------------------------------------------------------------------------------------------
-- The trading calendar as the market lived it (the `trading_calendar` asset).  schema.sql holds
-- this text as one section and migrations/0004_trading_calendar.sql is the same text (a test holds
-- them equal).  Every statement is idempotent.
-- ---------------------------------------------------------------------------------------------

-- One row per calendar day, weekends included, from the first to the last date on which any of
-- the indices (VNINDEX, VN30, HNXINDEX, UPCOMINDEX) traded, as their provider's daily bars say.
-- Inside that span `traded` is the truth; outside it the rule-based calendar decides.
CREATE TABLE IF NOT EXISTS trading_calendar (
  trading_date date        PRIMARY KEY,
  traded       boolean     NOT NULL,
  source       text        NOT NULL,                 -- the provider the indices' bars came from
  observed_at  timestamptz NOT NULL DEFAULT now()    -- when this day's verdict last changed
);

-- When the calendar was last refreshed from the provider (one row): runs refresh it when a
-- session has opened or closed since.
CREATE TABLE IF NOT EXISTS trading_calendar_refresh (
  id           boolean     PRIMARY KEY DEFAULT true CHECK (id),
  refreshed_at timestamptz NOT NULL,
  source       text        NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON trading_calendar, trading_calendar_refresh TO vietmarket_writer;
GRANT SELECT ON trading_calendar, trading_calendar_refresh TO vietmarket_reader;

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
