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
