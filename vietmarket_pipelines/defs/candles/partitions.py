"""The candle partitions: every ticker (dynamic, shared) x every timeframe (static); keys read "1d|VCB"."""

from collections import defaultdict
from collections.abc import Iterable

import dagster as dg

from vietmarket_core.market import TIMEFRAMES, Timeframe, is_timeframe
from vietmarket_pipelines.defs.common.partitions import TICKERS, tickers_partitions
from vietmarket_pipelines.defs.common.run_tags import RANGE_END_TAG, RANGE_START_TAG

# TICKERS and tickers_partitions are re-exported: the candles' ticker dimension is the shared one.
__all__ = [
    "TICKERS",
    "candle_key",
    "candle_partitions",
    "range_tags",
    "split_candle_key",
    "tickers_by_timeframe",
    "tickers_partitions",
    "timeframe_partitions",
]

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


def tickers_by_timeframe(keys: Iterable[str | dg.MultiPartitionKey]) -> dict[Timeframe, list[str]]:
    """The run's partitions grouped by timeframe, tickers in partition order: each key is split once."""
    by_tf: dict[Timeframe, list[str]] = defaultdict(list)
    for key in keys:
        ticker, tf = split_candle_key(key)
        by_tf[tf].append(ticker)
    return dict(by_tf)


def range_tags(tf: Timeframe, tickers: list[str]) -> dict[str, str]:
    """Run tags that make one run cover `tickers` at `tf`; they must be listed in partition order,
    so that first..last is the contiguous range of exactly those partitions."""
    return {RANGE_START_TAG: str(candle_key(tickers[0], tf)), RANGE_END_TAG: str(candle_key(tickers[-1], tf))}
