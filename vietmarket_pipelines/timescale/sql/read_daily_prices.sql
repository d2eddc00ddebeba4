-- One ticker's daily_prices with ts in [start, end] (unix ms, 00:00 UTC of the trading date), ascending.
SELECT ticker, ts, exchange, open, high, low, close, average, ad_open, ad_high, ad_low, ad_close,
       ad_average, reference, ceiling, floor, nm_volume, nm_value, pt_volume, pt_value, source
  FROM daily_prices
 WHERE ticker = %(ticker)s AND ts >= %(start)s AND ts <= %(end)s
 ORDER BY ts;
