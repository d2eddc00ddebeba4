"""The candle IO manager plus a Convex mirror of each written series' latest slice, after the commit."""

import dagster as dg

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
        try:
            super().handle_output(context, obj)
        finally:
            if self.convex.enabled:
                self._mirror(context, obj)

    def _mirror(self, context: dg.OutputContext, obj: CandleBatch) -> None:
        try:
            mirror = self.convex.mirror(self.store().connection)
        except ValueError as exc:
            context.log.warning(f"convex mirror misconfigured, skipped: {exc}")
            return
        try:
            report = mirror.mirror_candles([(s.ticker, s.tf) for s in obj.series])
        finally:
            mirror.close()
        if report.status in ("failed", "paused"):
            context.log.warning(f"convex mirror {report.status}: {report.error}")
        else:
            context.log.info(f"convex mirror {report.status}: {report.calls} calls, {report.bars_sent} bars")
        targeted = set(context.asset_partition_keys) if context.has_asset_partitions else set()
        for s in obj.series:
            key = str(candle_key(s.ticker, s.tf))
            if key in targeted and s.tf in self.convex.timeframes:
                add_partition_metadata(context, key, report.metadata())
