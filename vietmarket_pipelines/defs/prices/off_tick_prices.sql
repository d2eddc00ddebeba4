-- Raw daily bars with an open, high, low or close off the exchange's tick grid.  The tick rule
-- arrives as data (exchange_rules.tick_schedule: a price's tick is that of the first row of its
-- exchange whose `below` exceeds it), and a price is on the grid within `tolerance` ticks.
-- Per bar: the names and values of the prices off the grid, in open, high, low, close order.
WITH schedule AS (
  SELECT * FROM unnest(%(exchanges)s::text[], %(below)s::float8[], %(ticks)s::float8[]) AS s(exchange, below, tick)
), prices AS (
  SELECT p.ticker, p.ts, p.exchange, v.ord, v.name, v.price
    FROM daily_prices p
   CROSS JOIN LATERAL (VALUES (1, 'open', p.open), (2, 'high', p.high), (3, 'low', p.low), (4, 'close', p.close))
         AS v(ord, name, price)
   WHERE p.ticker = ANY(%(tickers)s) AND p.ts >= %(since)s AND p.exchange IS NOT NULL
), ticked AS (
  SELECT x.*,
         (SELECT s.tick FROM schedule s
           WHERE s.exchange = x.exchange AND x.price < s.below - %(tolerance)s * s.tick
           ORDER BY s.below LIMIT 1) AS tick
    FROM prices x
)
SELECT ticker, ts, exchange,
       array_agg(name ORDER BY ord) AS names,
       array_agg(price ORDER BY ord) AS prices
  FROM ticked
 WHERE abs(price / tick - round(price / tick)) >= %(tolerance)s
 GROUP BY ticker, ts, exchange
 ORDER BY ticker, ts;
