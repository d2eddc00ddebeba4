-- The newest bar time strictly before a point: UDF's nextTime when a range holds no bars.
SELECT max(ts) FROM {table} AS bars WHERE ticker = $1 AND tf = $2 AND ts < $3
