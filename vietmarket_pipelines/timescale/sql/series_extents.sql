-- First and newest bar and the bar count of every series of one timeframe: the cheap gap screen.
SELECT ticker, min(ts), max(ts), count(*)
  FROM {table}
 WHERE tf = %(tf)s
 GROUP BY ticker;
