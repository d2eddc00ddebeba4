-- The newest corporate actions of every ticker, keyset-paged on (ex_date desc, id desc) like the
-- deployed server: $1 is beforeExDate or NULL, $2 beforeId (NULL: every action on $1 itself is
-- still listed, as the old server did), $3 the page size.  Rows without an ex_date are not listed.
-- One row more than the page is read to know whether another page follows; the page leaves the
-- server as ready JSON (corporate_actions_page.sql renders it).
WITH page AS (
  SELECT id, ticker, exchange, ex_date, record_date, pay_date, headline, event_type, source, source_url,
         ingested_at, factor, cumulative_factor,
         row_number() OVER (ORDER BY ex_date DESC, id DESC) AS n
  FROM corporate_actions
  WHERE ex_date IS NOT NULL
    AND ($1::date IS NULL OR (ex_date, id) < ($1::date, coalesce($2::bigint, 9223372036854775807)))
  ORDER BY ex_date DESC, id DESC
  LIMIT $3 + 1
)
{render}
