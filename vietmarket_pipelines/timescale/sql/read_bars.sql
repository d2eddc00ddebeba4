-- One series' bars in [start, end], ascending: what downstream assets load.
SELECT ts, o, h, l, c, v, source
  FROM {table}
 WHERE ticker = %(ticker)s AND tf = %(tf)s AND ts >= %(start)s AND ts <= %(end)s
 ORDER BY ts;
