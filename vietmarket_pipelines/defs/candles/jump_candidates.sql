-- Trading dates on which a series' range leaves the band around the previous trading date's range,
-- before the tick of rounding (rule_checks judges each candidate with exchange_rules).  A trading
-- date's bars are one range at every timeframe: an intraday bar belongs to its Asia/Ho_Chi_Minh
-- date.  The band is the day's real one from daily_prices when stored, else the tightest
-- exchange band (the `tightest` parameter), so every real violation is a candidate.  `ex_dates` lists the
-- corporate actions that went ex after the previous trading date, up to and including this one;
-- `prev_raw_low`/`prev_raw_high` are the previous trading date's raw range from daily_prices, to tell
-- whether the exchange adjusted this day's reference (an ex-date, a cash dividend's included).
WITH days AS (
  SELECT ticker,
         CASE WHEN tf = '1d' THEN ts ELSE (ts + 25200000) / 86400000 * 86400000 END AS day_ts,
         min(l) AS low,
         max(h) AS high
    FROM {table}
   WHERE ticker = ANY(%(tickers)s) AND tf = %(tf)s AND ts >= %(since)s
   GROUP BY 1, 2
), steps AS (
  SELECT ticker, day_ts, low, high,
         lag(day_ts) OVER w AS prev_ts,
         lag(low) OVER w AS prev_low,
         lag(high) OVER w AS prev_high
    FROM days
  WINDOW w AS (PARTITION BY ticker ORDER BY day_ts)
)
SELECT s.ticker, s.day_ts, s.prev_ts, s.prev_low, s.prev_high, s.low, s.high,
       coalesce(p.exchange, sym.exchange) AS exchange,
       p.reference, p.floor, p.ceiling, pp.low AS prev_raw_low, pp.high AS prev_raw_high,
       ARRAY(
         SELECT DISTINCT a.ex_date
           FROM corporate_actions a
          WHERE a.ticker = s.ticker
            AND a.ex_date > date '1970-01-01' + (s.prev_ts / 86400000)::int
            AND a.ex_date <= date '1970-01-01' + (s.day_ts / 86400000)::int
          ORDER BY a.ex_date
       ) AS ex_dates
  FROM steps s
  LEFT JOIN daily_prices p ON p.ticker = s.ticker AND p.ts = s.day_ts
  LEFT JOIN daily_prices pp ON pp.ticker = s.ticker AND pp.ts = s.prev_ts
  LEFT JOIN symbols sym ON sym.ticker = s.ticker
 WHERE s.prev_ts IS NOT NULL
   AND coalesce(sym.kind, 'stock') = 'stock'
   AND (s.high > s.prev_high * coalesce(p.ceiling / p.reference, 1 + %(tightest)s)
        OR s.low < s.prev_low * coalesce(p.floor / p.reference, 1 - %(tightest)s))
 ORDER BY s.ticker, s.day_ts;
