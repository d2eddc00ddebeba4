-- Fetch outcomes of the articles first seen in the last day.
SELECT count(*) FILTER (WHERE fetch_status = 'failed') AS failed,
       count(*) FILTER (WHERE fetch_status IN ('fetched', 'failed')) AS attempted
FROM articles
WHERE created_at > now() - interval '1 day'
