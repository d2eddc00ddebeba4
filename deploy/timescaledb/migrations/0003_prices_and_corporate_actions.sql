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
