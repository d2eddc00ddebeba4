"""The candle partitions: every ticker (dynamic) x every timeframe (static)."""

import dagster as dg

from vietmarket_core.market import TIMEFRAMES, Timeframe, is_timeframe

TICKERS = "tickers"
tickers_partitions = dg.DynamicPartitionsDefinition(name=TICKERS)
timeframe_partitions = dg.StaticPartitionsDefinition(list(TIMEFRAMES))
candle_partitions = dg.MultiPartitionsDefinition({"ticker": tickers_partitions, "tf": timeframe_partitions})


def candle_key(ticker: str, tf: Timeframe) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"ticker": ticker, "tf": tf})


def split_candle_key(key: str | dg.MultiPartitionKey) -> tuple[str, Timeframe]:
    """(ticker, tf) of a key; plain strings are "1d|FPT", dimensions sorted by name."""
    parsed = key if isinstance(key, dg.MultiPartitionKey) else candle_partitions.get_partition_key_from_str(key)
    dims = parsed.keys_by_dimension
    tf = dims["tf"]
    if not is_timeframe(tf):
        raise ValueError(f"partition {key!r} has an unknown timeframe {tf!r}")
    return dims["ticker"], tf  # type: ignore[return-value]


def range_tags(tf: Timeframe, tickers: list[str]) -> dict[str, str]:
    """Run tags that make one run cover `tickers` (sorted, contiguous in the partition order) at `tf`."""
    first, last = min(tickers), max(tickers)
    return {
        "dagster/asset_partition_range_start": str(candle_key(first, tf)),
        "dagster/asset_partition_range_end": str(candle_key(last, tf)),
    }
