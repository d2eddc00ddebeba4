-- The 1d bars on the raw (traded) basis, in the candle tables' columns: VNDirect finfo's daily
-- prices as traded, with the order-matching volume (put-through deals are negotiated off the
-- order book, outside the OHLC, so they are not in v, as in the chart providers' bars).
-- The queries of candles_page.sql, candles_range.sql etc. read this relation in place of
-- candles_1d; ticker and ts filters reach daily_prices' primary key (ticker, ts).
SELECT ticker, '1d'::text AS tf, ts, open AS o, high AS h, low AS l, close AS c, nm_volume AS v, source
FROM daily_prices
