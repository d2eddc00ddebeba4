-- Writes daily_prices rows given as one array parameter per column, in one statement.  A row
-- already stored with the same values is left alone, ingested_at included (IS DISTINCT FROM), so
-- ingested_at moves only when finfo really changed a row, e.g. restated its adjusted prices after
-- an ex-date.  Returns one row per row written, saying whether it was inserted (else updated).
INSERT INTO daily_prices AS t (ticker, ts, exchange, open, high, low, close, average, ad_open, ad_high, ad_low, ad_close,
                              ad_average, reference, ceiling, floor, nm_volume, nm_value, pt_volume, pt_value, source)
SELECT * FROM unnest(
       %(ticker)s::text[], %(ts)s::bigint[], %(exchange)s::text[], %(open)s::float8[],
       %(high)s::float8[], %(low)s::float8[], %(close)s::float8[], %(average)s::float8[],
       %(ad_open)s::float8[], %(ad_high)s::float8[], %(ad_low)s::float8[], %(ad_close)s::float8[],
       %(ad_average)s::float8[], %(reference)s::float8[], %(ceiling)s::float8[], %(floor)s::float8[],
       %(nm_volume)s::float8[], %(nm_value)s::float8[], %(pt_volume)s::float8[], %(pt_value)s::float8[],
       %(source)s::text[])
ON CONFLICT (ticker, ts) DO UPDATE
   SET exchange = excluded.exchange, open = excluded.open, high = excluded.high, low = excluded.low,
       close = excluded.close, average = excluded.average, ad_open = excluded.ad_open,
       ad_high = excluded.ad_high, ad_low = excluded.ad_low, ad_close = excluded.ad_close,
       ad_average = excluded.ad_average, reference = excluded.reference, ceiling = excluded.ceiling,
       floor = excluded.floor, nm_volume = excluded.nm_volume, nm_value = excluded.nm_value,
       pt_volume = excluded.pt_volume, pt_value = excluded.pt_value, source = excluded.source,
       ingested_at = now()
 WHERE (t.exchange, t.open, t.high, t.low, t.close, t.average, t.ad_open, t.ad_high, t.ad_low, t.ad_close,
        t.ad_average, t.reference, t.ceiling, t.floor, t.nm_volume, t.nm_value, t.pt_volume, t.pt_value,
        t.source)
       IS DISTINCT FROM
       (excluded.exchange, excluded.open, excluded.high, excluded.low, excluded.close, excluded.average,
        excluded.ad_open, excluded.ad_high, excluded.ad_low, excluded.ad_close, excluded.ad_average,
        excluded.reference, excluded.ceiling, excluded.floor, excluded.nm_volume, excluded.nm_value,
        excluded.pt_volume, excluded.pt_value, excluded.source)
RETURNING xmax = 0 AS inserted;
