"""The candle IO manager plus a Convex mirror of each written series' latest slice, after the commit."""

from collections.abc import Iterable, Iterator

import dagster as dg

from vietmarket_core.market import Timeframe
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.defs.candles.assets import MODE_TAG
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.defs.convex.resources import ConvexMirrorResource
from vietmarket_pipelines.io_managers.timescale_candles import (
    CandleBatch,
    TimescaleCandleIOManager,
    add_partition_metadata,
)


class ConvexMirroredCandleIOManager(TimescaleCandleIOManager):
    """Writes exactly as TimescaleCandleIOManager, then mirrors; the mirror can never fail the step.

    It runs even when the write raised for some partitions: whatever did commit is mirrored, and the
    original error is re-raised untouched.
    """

    convex: ConvexMirrorResource

    def handle_output(self, context: dg.OutputContext, obj: CandleBatch) -> None:
        # The series may be a stream the write consumes once; remember what passed through it.
        seen: list[tuple[str, Timeframe]] = []

        def recording(series: Iterable[BarSeries]) -> Iterator[BarSeries]:
            for one in series:
                seen.append((one.ticker, one.tf))
                yield one

        obj.series = recording(obj.series)
        try:
            super().handle_output(context, obj)
        finally:
            if self.convex.enabled:
                self._mirror(context, seen)

    def _mirror(self, context: dg.OutputContext, seen: list[tuple[str, Timeframe]]) -> None:
        try:
            mirror = self.convex.mirror(self.store().connection)
        except ValueError as exc:
            context.log.warning(f"convex mirror misconfigured, skipped: {exc}")
            return
        try:
            # The close and repair passes settle the day: they mirror whatever changed, at once.
            force = context.step_context.dagster_run.tags.get(MODE_TAG) in ("close", "repair")
            report = mirror.mirror_candles(seen, force=force)
        finally:
            mirror.close()
        if report.status in ("failed", "paused"):
            context.log.warning(f"convex mirror {report.status}: {report.error}")
        else:
            context.log.info(f"convex mirror {report.status}: {report.calls} calls, {report.bars_sent} bars")
        targeted = set(context.asset_partition_keys) if context.has_asset_partitions else set()
        for ticker, tf in seen:
            key = str(candle_key(ticker, tf))
            if key in targeted and tf in self.convex.timeframes:
                add_partition_metadata(context, key, report.metadata())
