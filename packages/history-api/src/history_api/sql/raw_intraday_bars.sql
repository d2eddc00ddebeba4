-- The intraday bars of {table} on the raw (traded) basis: the stored (adjusted) bar divided by
-- the cumulative factor of its trading date d (Asia/Ho_Chi_Minh), the product of factor over the
-- ticker's finfo-derived corporate actions with ex_date > d (1 when there is none; then the bar is
-- returned exactly as stored).  Un-adjusted prices are rounded to 0.01 thousand VND, the smallest
-- tick; volume stays as stored: the providers adjust prices only, never share counts.
SELECT b.ticker, b.tf, b.ts,
       CASE WHEN f.cf = 1 THEN b.o ELSE round((b.o / f.cf)::numeric, 2)::float8 END AS o,
       CASE WHEN f.cf = 1 THEN b.h ELSE round((b.h / f.cf)::numeric, 2)::float8 END AS h,
       CASE WHEN f.cf = 1 THEN b.l ELSE round((b.l / f.cf)::numeric, 2)::float8 END AS l,
       CASE WHEN f.cf = 1 THEN b.c ELSE round((b.c / f.cf)::numeric, 2)::float8 END AS c,
       b.v, b.source
FROM {table} b
CROSS JOIN LATERAL (
  SELECT coalesce(exp(sum(ln(a.factor))), 1) AS cf
  FROM corporate_actions a
  WHERE a.ticker = b.ticker AND a.source = 'finfo' AND a.factor IS NOT NULL
    AND a.ex_date > (to_timestamp(b.ts / 1000) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
) f
