-- One ticker's corporate actions, newest first, keyset-paged like corporate_actions_latest.sql;
-- $1 is the ticker, $2/$3 the cursor (beforeExDate, beforeId), $4 the page size.
WITH page AS (
  SELECT id, ticker, exchange, ex_date, record_date, pay_date, headline, event_type, source, source_url,
         ingested_at, factor, cumulative_factor,
         row_number() OVER (ORDER BY ex_date DESC, id DESC) AS n
  FROM corporate_actions
  WHERE ticker = $1 AND ex_date IS NOT NULL
    AND ($2::date IS NULL OR (ex_date, id) < ($2::date, coalesce($3::bigint, 9223372036854775807)))
  ORDER BY ex_date DESC, id DESC
  LIMIT $4 + 1
)
{render}
