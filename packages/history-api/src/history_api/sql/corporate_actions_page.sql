-- Renders a page CTE of corporate actions (row number n, page size {limit}) as the old server's rows:
-- its columns in its order, then factor and cumulative_factor; dates as YYYY-MM-DD, ingested_at
-- as ISO 8601 UTC; to_json of a row keeps that order and prints compact JSON.  last_ex_date and
-- last_id are the next page's cursor when more is true.
SELECT count(*) FILTER (WHERE p.n <= {limit})::int AS count,
       coalesce(string_agg(to_json(r)::text, ',' ORDER BY p.n) FILTER (WHERE p.n <= {limit}), '') AS rows_json,
       coalesce(bool_or(p.n > {limit}), false) AS more,
       max(p.ex_date) FILTER (WHERE p.n = {limit}) AS last_ex_date,
       max(p.id) FILTER (WHERE p.n = {limit}) AS last_id
FROM page p
CROSS JOIN LATERAL (
  SELECT p.id, p.ticker, p.exchange, p.ex_date, p.record_date, p.pay_date, p.headline, p.event_type, p.source,
         p.source_url, to_char(p.ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ingested_at,
         p.factor, p.cumulative_factor
) r
