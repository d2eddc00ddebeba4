-- Whether a series already has any bar in [first, last]: if not, the batch cannot conflict and
-- is copied straight into the hypertable.
SELECT EXISTS (
  SELECT 1 FROM {table}
   WHERE ticker = %(ticker)s AND tf = %(tf)s AND ts BETWEEN %(first)s AND %(last)s
);
