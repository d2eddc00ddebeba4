-- Raw daily bars with an open, high, low or close off the exchange's tick grid.  The tick rule
-- arrives as data (exchange_rules.tick_schedule: a price's tick is that of the first row of its
-- exchange whose `below` exceeds it), and a price is on the grid within `tolerance` ticks; each
-- level's bounds move down by that tolerance, as exchange_rules.tick_size does.  The levels are
-- joined as ranges, not looked up per price: a whole-market history is ~25M prices.
-- Per bar: the names and values of the prices off the grid, in open, high, low, close order.
WITH schedule AS (
  SELECT exchange, tick,
         coalesce(lag(below - %(tolerance)s * tick) OVER w, '-Infinity'::float8) AS lower,
         below - %(tolerance)s * tick AS upper
    FROM unnest(%(exchanges)s::text[], %(below)s::float8[], %(ticks)s::float8[]) AS s(exchange, below, tick)
  WINDOW w AS (PARTITION BY exchange ORDER BY below)
), prices AS (
  SELECT p.ticker, p.ts, p.exchange, v.ord, v.name, v.price
    FROM daily_prices p
   CROSS JOIN LATERAL (VALUES (1, 'open', p.open), (2, 'high', p.high), (3, 'low', p.low), (4, 'close', p.close))
         AS v(ord, name, price)
   WHERE p.ticker = ANY(%(tickers)s) AND p.ts >= %(since)s AND p.exchange IS NOT NULL
)
SELECT x.ticker, x.ts, x.exchange,
       array_agg(x.name ORDER BY x.ord) AS names,
       array_agg(x.price ORDER BY x.ord) AS prices
  FROM prices x
  JOIN schedule s ON s.exchange = x.exchange AND x.price >= s.lower AND x.price < s.upper
 WHERE abs(x.price / s.tick - round(x.price / s.tick)) >= %(tolerance)s
 GROUP BY x.ticker, x.ts, x.exchange
 ORDER BY x.ticker, x.ts;
