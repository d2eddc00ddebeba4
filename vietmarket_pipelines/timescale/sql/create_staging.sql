-- One staging table per connection for the bars of the partition being written.  Temporary, so
-- it writes no WAL; emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS candle_staging (
  ts bigint           NOT NULL,
  o  double precision NOT NULL,
  h  double precision NOT NULL,
  l  double precision NOT NULL,
  c  double precision NOT NULL,
  v  double precision NOT NULL
) ON COMMIT DELETE ROWS;
