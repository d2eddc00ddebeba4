-- A replacement's last write: the stored bars of the series ({table}) that the provider's whole
-- history, staged in candle_staging, no longer has.  The delete trigger moves candles_latest
-- back when the newest bar is among them.
DELETE FROM {table} t
 WHERE t.ticker = %(ticker)s AND t.tf = %(tf)s
   AND NOT EXISTS (SELECT 1 FROM candle_staging s WHERE s.ts = t.ts);
