-- Raw daily bars whose high or low lies outside the day's [floor, ceiling] at all, before the tick
-- of rounding (rule_checks judges each candidate with exchange_rules); indices have no band.
SELECT ticker, ts, exchange, low, high, floor, ceiling
  FROM daily_prices
 WHERE ticker = ANY(%(tickers)s) AND ts >= %(since)s
   AND exchange IS NOT NULL
   AND (high > ceiling OR low < floor)
 ORDER BY ticker, ts;
