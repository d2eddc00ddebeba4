"""The candle IO manager: upserts each partition's bars into its hypertable and loads them back."""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from vietmarket_core.market import Timeframe
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.defs.candles.partitions import candle_key, split_candle_key
from vietmarket_pipelines.providers.http import ProviderUnavailable
from vietmarket_pipelines.timescale.candle_store import CandleStore, UpsertStats


class CandlePartitionsFailed(RuntimeError):
    """Some partitions of a run were rejected; the rest were written."""


@dataclass
class CandleBatch:
    """What the candles asset hands to the IO manager: validated series, and the partitions that
    failed with the reason for each (nothing is written for those).

    `series` may still be arriving (the asset fetches while the IO manager writes): `errors` and
    `notes` (lines for the run log) are complete once it has been iterated to the end.
    """

    series: Iterable[BarSeries] = field(default_factory=list)
    errors: dict[str, Exception] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def partition_metadata(stats: UpsertStats, row_count: int | None) -> dict[str, Any]:
    md: dict[str, Any] = {
        "bars_fetched": stats.fetched,
        "bars_inserted": stats.inserted,
        "bars_updated": stats.updated,
        "bars_unchanged": stats.unchanged,
        "source": stats.source,
        "first_ts": stats.first_ts,
        "last_ts": stats.last_ts,
    }
    if row_count is not None:
        md["dagster/partition_row_count"] = row_count
    return md


def add_partition_metadata(context: dg.OutputContext, partition_key: str, metadata: dict[str, Any]) -> None:
    """Attaches metadata to one partition's materialization.

    The public `add_asset_metadata(partition_key=...)` re-lists every partition key of the run's
    range (a database read of the dynamic partitions) on each call: quadratic, minutes for a
    whole-market run.  The key was already checked against the run's targets, so on the pinned
    Dagster (1.13.27) the metadata goes straight into the step's accumulator; on any other
    release the public call is used.
    """
    step = context.step_context
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "with_additional_asset_metadata"):
        step.add_asset_metadata(metadata, partition_key=partition_key)
        return
    step._metadata_accumulator = accumulator.with_additional_asset_metadata(
        asset_key=context.asset_key, metadata=metadata, partition_key=partition_key
    )


class TimescaleCandleIOManager(dg.ConfigurableIOManager):
    """Writes with CandleStore: binary COPY into a staging table, then an upsert that rewrites only
    changed bars; one transaction per (ticker, tf); candles_latest follows through triggers."""

    dsn: str
    attempts: int = 5

    def store(self) -> CandleStore:
        return CandleStore(self.dsn, attempts=self.attempts)

    def handle_output(self, context: dg.OutputContext, obj: CandleBatch) -> None:
        store = self.store()
        started = time.monotonic()
        written: list[UpsertStats] = list(store.write_partitions(obj.series))
        for note in obj.notes:
            context.log.info(note)
        by_tf: dict[Timeframe, list[str]] = {}
        for s in written:
            by_tf.setdefault(s.tf, []).append(s.ticker)
        counts = {
            (t, tf): n for tf, tickers in by_tf.items() for t, n in store.partition_row_counts(tf, tickers).items()
        }
        targeted = set(context.asset_partition_keys) if context.has_asset_partitions else set()
        for stats in written:
            key = str(candle_key(stats.ticker, stats.tf))
            if key in targeted:
                add_partition_metadata(context, key, partition_metadata(stats, counts.get((stats.ticker, stats.tf))))
        context.log.info(
            f"wrote {len(written)} partitions: {sum(s.fetched for s in written)} bars fetched, "
            f"{sum(s.inserted for s in written)} inserted, {sum(s.updated for s in written)} updated, "
            f"{sum(s.unchanged for s in written)} unchanged; fetched and written in {time.monotonic() - started:.1f} s"
        )
        if obj.errors:
            listed = "; ".join(f"{k}: {v}" for k, v in sorted(obj.errors.items(), key=lambda kv: kv[0])[:20])
            more = f" (+{len(obj.errors) - 20} more)" if len(obj.errors) > 20 else ""
            message = (
                f"{len(obj.errors)} of {len(obj.errors) + len(written)} partitions rejected, nothing "
                f"written for them; the other {len(written)} were written: {listed}{more}"
            )
            if any(isinstance(e, ProviderUnavailable) for e in obj.errors.values()):
                # A provider that timed out or throttled may answer on the step's retry.
                raise CandlePartitionsFailed(message)
            # A malformed payload will be just as malformed a minute later: fail now, clearly.
            raise dg.Failure(description=message, allow_retries=False)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The bars of every upstream partition in scope, with ticker and tf columns."""
        store = self.store()
        frames = []
        for key in context.asset_partition_keys:
            ticker, tf = split_candle_key(key)
            frame = store.read_series(ticker, tf)
            frame.insert(0, "tf", tf)
            frame.insert(0, "ticker", ticker)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["ticker", "tf", "ts", "o", "h", "l", "c", "v", "source"])
        return pd.concat(frames, ignore_index=True)
