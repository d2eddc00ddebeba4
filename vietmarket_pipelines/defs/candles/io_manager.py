"""The candle IO manager: upserts each fetched partition into its hypertable, or replaces a restated series
whole, then hands the written series to the Convex mirror; rejected partitions are recorded for their check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from vietmarket_core.market import Timeframe, bar_label
from vietmarket_pipelines.defs.candles.fetch import CandleFetch, RejectedPartition
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.partition_metadata import add_partition_metadata as add_metadata_to_partition
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.restatement import ReplacementSeries
from vietmarket_pipelines.timescale.candle_store import CandleStore, UpsertStats

# The metadata key a rejected partition's materialization carries; its check reads it back.
REJECTED_KEY = "rejected"
LISTED_REJECTIONS = 20


class CandlePartitionsFailed(RuntimeError):
    """Every partition of the step was rejected, and a retry may help (the provider was unavailable)."""


@dataclass
class WriteOutcome:
    """What the write of one step did: each written partition's stats, each rejected partition."""

    written: list[UpsertStats] = field(default_factory=list)
    rejected: list[RejectedPartition] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def restated(self) -> list[UpsertStats]:
        return [s for s in self.written if s.restatement is not None]

    def summary(self) -> str:
        w, restated = self.written, self.restated
        return (
            f"wrote {len(w)} partitions: {sum(s.fetched for s in w)} bars fetched, {sum(s.inserted for s in w)} "
            f"inserted, {sum(s.updated for s in w)} updated, {sum(s.unchanged for s in w)} unchanged; "
            f"{len(restated)} restated ({sum(s.bars_replaced for s in restated)} bars replaced); "
            f"{len(self.rejected)} rejected; fetched and written in {self.seconds:.1f} s"
        )

    def restatements(self) -> str:
        return "; ".join(
            f"{s.ticker} {s.tf} restated by {s.source}: factor {r.factor:.6f}, estimated ex-date "
            f"{r.estimated_ex_date}, {s.bars_replaced} bars replaced ({s.updated} rewritten, {s.rescaled} "
            f"rescaled, {s.deleted} deleted)"
            for s in self.restated
            if (r := s.restatement) is not None
        )

    def rejections(self) -> str:
        listed = "; ".join(r.describe() for r in sorted(self.rejected, key=lambda r: r.key)[:LISTED_REJECTIONS])
        more = len(self.rejected) - LISTED_REJECTIONS
        return (
            f"{len(self.rejected)} of {len(self.rejected) + len(self.written)} partitions rejected, nothing written "
            f"for them: {listed}{f' (+{more} more)' if more > 0 else ''}"
        )


def write_fetch(store: CandleStore, fetch: CandleFetch) -> WriteOutcome:
    """Writes every fetched partition in its own transaction, as it arrives."""
    started = time.monotonic()
    outcome = WriteOutcome()
    with store.writer() as writer:
        for partition in fetch.partitions:
            if isinstance(partition, RejectedPartition):
                outcome.rejected.append(partition)
            elif isinstance(partition, ReplacementSeries):
                outcome.written.append(writer.replace(partition))
            else:
                outcome.written.append(writer.write(partition))
    outcome.seconds = time.monotonic() - started
    return outcome


def partition_metadata(stats: UpsertStats, row_count: int | None) -> dict[str, Any]:
    # Unix ms overflow GraphQL's 32-bit integers; a timestamp metadata value is a float of seconds.
    md: dict[str, Any] = {
        "bars_fetched": stats.fetched,
        "bars_inserted": stats.inserted,
        "bars_updated": stats.updated,
        "bars_unchanged": stats.unchanged,
        "source": stats.source,
    }
    for name, ts in (("first", stats.first_ts), ("last", stats.last_ts)):
        if ts is not None:
            md[f"{name}_ts"] = dg.MetadataValue.timestamp(ts / 1000)
            md[f"{name}_bar"] = bar_label(ts, stats.tf)
    if row_count is not None:
        md["dagster/partition_row_count"] = row_count
    if (found := stats.restatement) is not None:
        md |= {
            "restated": True,
            "restatement_factor": found.factor,
            "estimated_ex_date": found.estimated_ex_date.isoformat() if found.estimated_ex_date else "unknown",
            "bars_replaced": stats.bars_replaced,
            "bars_deleted": stats.deleted,
            "bars_rescaled": stats.rescaled,
            "restatement_detected_by": found.detected_by,
        }
    return md


def rejection_metadata(rejected: RejectedPartition) -> dict[str, Any]:
    return {REJECTED_KEY: rejected.describe(), "provider": rejected.provider, "bars_fetched": 0}


def add_partition_metadata(context: dg.OutputContext, partition_key: str, metadata: dict[str, Any]) -> None:
    """Attaches metadata to one partition's materialization, in linear time (see `partition_metadata`)."""
    add_metadata_to_partition(context.step_context, context.asset_key, partition_key, metadata)


def fail_whole_step(outcome: WriteOutcome) -> None:
    """Raises when nothing at all was written: a provider outage is worth the step's retries."""
    if outcome.written or not outcome.rejected:
        return
    if any(r.retryable for r in outcome.rejected):
        raise CandlePartitionsFailed(outcome.rejections())
    # A malformed payload will be just as malformed a minute later: fail now, clearly.
    raise dg.Failure(description=outcome.rejections(), allow_retries=False)


class TimescaleCandleIOManager(dg.ConfigurableIOManager):
    """Writes with CandleStore, one transaction per (ticker, tf); candles_latest follows through
    triggers.  After the commits, the optional Convex mirror gets the written series.

    A rejected partition fails alone: the others are written and materialized with their metadata,
    and the rejection is recorded on its own partition, where the `fetch_accepted` check fails it.
    """

    timescale: TimescaleResource
    convex: ConvexMirrorResource

    def handle_output(self, context: dg.OutputContext, obj: CandleFetch) -> None:
        store = self.timescale.store()
        outcome = write_fetch(store, obj)
        context.log.info(outcome.summary())
        if outcome.restated:
            context.log.warning(f"provider restated history, series replaced: {outcome.restatements()}")
        fail_whole_step(outcome)
        targeted = set(context.asset_partition_keys) if context.has_asset_partitions else set()
        self._record(context, store, outcome, targeted)
        if outcome.rejected:
            context.log.warning(outcome.rejections())
        if self.convex.enabled:
            self._mirror(context, store, outcome, obj, targeted)

    def _record(self, context: dg.OutputContext, store: CandleStore, outcome: WriteOutcome, targeted: set[str]) -> None:
        by_tf: dict[Timeframe, list[str]] = {}
        for s in outcome.written:
            by_tf.setdefault(s.tf, []).append(s.ticker)
        counts = {
            (t, tf): n for tf, tickers in by_tf.items() for t, n in store.partition_row_counts(tf, tickers).items()
        }
        for stats in outcome.written:
            key = str(candle_key(stats.ticker, stats.tf))
            if key in targeted:
                add_partition_metadata(context, key, partition_metadata(stats, counts.get((stats.ticker, stats.tf))))
        for rejected in outcome.rejected:
            if rejected.key in targeted:
                add_partition_metadata(context, rejected.key, rejection_metadata(rejected))

    def _mirror(
        self, context: dg.OutputContext, store: CandleStore, outcome: WriteOutcome, obj: CandleFetch, targeted: set[str]
    ) -> None:
        written = [(s.ticker, s.tf) for s in outcome.written]
        report = self.convex.mirror_candles(store.connection, written, force=obj.mode.settles_the_day)
        if report.status in ("failed", "paused"):
            context.log.warning(f"convex mirror {report.status}: {report.error}")
        else:
            context.log.info(f"convex mirror {report.status}: {report.calls} calls, {report.bars_sent} bars")
        for ticker, tf in written:
            key = str(candle_key(ticker, tf))
            if key in targeted and tf in self.convex.timeframes:
                add_partition_metadata(context, key, report.metadata())

    def load_input(self, context: dg.InputContext) -> None:
        # No asset takes candles as an input: quants read them through the History API, other
        # code through CandleStore.  Dagster requires the method, so it refuses clearly.
        raise NotImplementedError(
            f"{context.upstream_output.asset_key if context.upstream_output else 'candles'} is not loaded as an "
            "input; read bars with CandleStore.read_series or the History API"
        )
