-- A replacement's last write: the stored bars of the series ({table}) within the span of the
-- provider's whole history, staged in candle_staging, that it no longer has.  Older bars are
-- rescaled (rescale_older_bars.sql), never deleted.  The delete trigger moves candles_latest back
-- when the newest bar is among them.
DELETE FROM {table} t
 WHERE t.ticker = %(ticker)s AND t.tf = %(tf)s
   AND t.ts >= %(first_ts)s
   AND NOT EXISTS (SELECT 1 FROM candle_staging s WHERE s.ts = t.ts);
