-- UDF marks: the articles linked to ticker $1 whose mark time, in unix seconds, is in [$2, $3),
-- the $5 newest of them, ascending.  A mark's time is the publication instant for intraday charts
-- ($4 = false) and, for daily ones ($4 = true), 00:00 UTC of the Vietnam date it was published on:
-- the 1d bar time of that session, so an evening article sits on its own day's bar.  Only fetched
-- articles, as /news/* lists them: a pending page is unread, a failed one's URL may be dead.
-- colour by link confidence: >= 0.8 high, >= 0.5
-- medium, else low.  Compact ready JSON.
WITH linked AS (
  SELECT a.url, a.title, a.published_at, s.confidence,
         CASE WHEN $4
              THEN ((a.published_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - DATE '1970-01-01')::bigint * 86400
              ELSE floor(extract(epoch FROM a.published_at))::bigint END AS time
  FROM article_symbols s
  JOIN articles a ON a.url = s.article_url
  WHERE s.ticker = $1 AND a.published_at IS NOT NULL AND a.title IS NOT NULL AND a.fetch_status = 'fetched'
), chosen AS (
  SELECT * FROM linked
  WHERE time >= $2 AND time < $3
  ORDER BY time DESC, published_at DESC, url DESC
  LIMIT $5
)
SELECT '[' || coalesce(string_agg(to_json(r)::text, ',' ORDER BY c.time, c.published_at, c.url), '') || ']' AS marks
FROM chosen c
CROSS JOIN LATERAL (
  SELECT c.url AS id,
         c.time,
         CASE WHEN c.confidence >= 0.8 THEN 'purple' WHEN c.confidence >= 0.5 THEN 'teal' ELSE 'silver' END
           AS color,
         c.title || E'\n' || to_char(c.published_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI')
           || ' ICT' || E'\n' || c.url AS text,
         'N' AS label,
         'white' AS "labelFontColor",
         14 AS "minSize",
         c.title,
         c.url,
         to_char(c.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS published_at,
         round(c.confidence::numeric, 3)::float8 AS confidence
) r
