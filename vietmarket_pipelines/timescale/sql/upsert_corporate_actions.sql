-- Writes one ticker's derived corporate actions (one array parameter per column) for one source.
-- A row already stored with the same values is left alone, ingested_at included.  Returns one row
-- per row written, saying whether it was inserted (else updated).
INSERT INTO corporate_actions AS t (ticker, exchange, ex_date, event_type, source, factor, cumulative_factor, evidence)
SELECT ticker, exchange, ex_date, event_type, source, factor, cumulative_factor, evidence::jsonb
  FROM unnest(%(ticker)s::text[], %(exchange)s::text[], %(ex_date)s::date[], %(event_type)s::text[],
              %(source)s::text[], %(factor)s::float8[], %(cumulative_factor)s::float8[], %(evidence)s::text[])
       AS a (ticker, exchange, ex_date, event_type, source, factor, cumulative_factor, evidence)
ON CONFLICT (ticker, ex_date, source) DO UPDATE
   SET exchange = excluded.exchange, event_type = excluded.event_type, factor = excluded.factor,
       cumulative_factor = excluded.cumulative_factor, evidence = excluded.evidence, ingested_at = now()
 WHERE (t.exchange, t.event_type, t.factor, t.cumulative_factor, t.evidence)
       IS DISTINCT FROM
       (excluded.exchange, excluded.event_type, excluded.factor, excluded.cumulative_factor, excluded.evidence)
RETURNING xmax = 0 AS inserted;
