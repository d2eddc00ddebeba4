-- Renders a page CTE of corporate actions (row number n, page size $limit) as the old server's rows:
-- its columns in its order, then factor and cumulative_factor; dates as YYYY-MM-DD, ingested_at
-- as ISO 8601 UTC.  last_ex_date/last_id are the next page's cursor when more is true.
SELECT count(*) FILTER (WHERE n <= {limit})::int AS count,
       coalesce(string_agg(json_build_object(
                  'id', id, 'ticker', ticker, 'exchange', exchange, 'ex_date', ex_date,
                  'record_date', record_date, 'pay_date', pay_date, 'headline', headline,
                  'event_type', event_type, 'source', source, 'source_url', source_url,
                  'ingested_at', to_char(ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                  'factor', factor, 'cumulative_factor', cumulative_factor)::text,
                  ',' ORDER BY n) FILTER (WHERE n <= {limit}), '') AS rows_json,
       coalesce(bool_or(n > {limit}), false) AS more,
       max(ex_date) FILTER (WHERE n = {limit}) AS last_ex_date,
       max(id) FILTER (WHERE n = {limit}) AS last_id
FROM page
