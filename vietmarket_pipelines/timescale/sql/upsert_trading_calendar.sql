-- The verdicts of one refresh; a day whose verdict and source are unchanged is not touched.
INSERT INTO trading_calendar AS c (trading_date, traded, source)
SELECT d, t, %(source)s FROM unnest(%(dates)s::date[], %(traded)s::boolean[]) AS v(d, t)
ON CONFLICT (trading_date) DO UPDATE
   SET traded = excluded.traded, source = excluded.source, observed_at = now()
 WHERE (c.traded, c.source) IS DISTINCT FROM (excluded.traded, excluded.source)
RETURNING (xmax = 0) AS inserted;
