"""The Convex mirror as a collaborator: its settings (off unless CONVEX_URL is set) and the passes it runs."""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import dagster as dg
import psycopg2.extensions
from pydantic import Field

from vietmarket_core.market import TIMEFRAMES, Timeframe
from vietmarket_pipelines.convex.mirror import ConvexMirror, MirrorReport, mirror_sql
from vietmarket_pipelines.timescale.candle_store import CandleStore

Connect = Callable[[], AbstractContextManager[psycopg2.extensions.connection]]


class ConvexMirrorResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Mirrors bounded latest slices to Convex after the canonical write; never fails that write.

    Its fields are the mirror's settings and hold the only defaults; `vietmarket_pipelines.settings` overrides
    only what the environment sets.
    """

    url: str = Field(default="", description="The deployment URL; empty turns mirroring off.")
    deploy_key: str = Field(default="", description="From CONVEX_DEPLOY_KEY; sent as `Authorization: Convex <key>`.")
    keep_bars: int = Field(default=500, description="Bars per (ticker, tf) Convex keeps.")
    timeframes: list[str] = Field(default=["1d"], description="Timeframes mirrored.")
    keep_articles: int = Field(default=50, description="Newest articles Convex keeps.")
    max_bars_per_call: int = 2000
    max_calls_per_run: int = 50
    max_calls_per_day: int = 2000
    # A series mirrored this recently waits for a later run: the latest ticks come every 5 minutes
    # and each rewrites the forming daily bar of every ticker, and Convex's I/O, not its calls, is
    # the scarce part of the free plan.  The close and repair passes ignore it.
    min_interval_seconds: float = Field(default=1800.0, description="A series waits this long between mirrors.")
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def mirror(self, connect: Connect) -> ConvexMirror:
        """A mirror on `connect`'s database; raises ValueError when the settings cannot work."""
        unknown = [tf for tf in self.timeframes if tf not in TIMEFRAMES]
        if unknown:
            raise ValueError(f"convex timeframes {unknown} are not among {TIMEFRAMES}")
        if not self.deploy_key:
            raise ValueError("CONVEX_URL is set but CONVEX_DEPLOY_KEY is empty")
        if self.keep_bars > self.max_bars_per_call:
            # A series is never split across calls, so one slice must fit in one.
            raise ValueError(f"keep_bars {self.keep_bars} exceeds max_bars_per_call {self.max_bars_per_call}")
        return ConvexMirror(self, connect)

    def mirror_candles(self, connect: Connect, series: Sequence[tuple[str, Timeframe]], *, force: bool) -> MirrorReport:
        """Mirrors the written series' slices; `force` ignores the per-series interval."""
        return self._pass(connect, lambda mirror: mirror.mirror_candles(series, force=force))

    def mirror_news(self, connect: Connect) -> MirrorReport:
        return self._pass(connect, lambda mirror: mirror.mirror_news())

    def out_of_sync(self, store: CandleStore, series: Sequence[str]) -> dict[str, str]:
        """Why each listed mirror series (e.g. `series_key(ticker, tf)`) is out of sync: "pending" and/or
        its last error; a series in sync is absent."""
        rows = store.rows("convex sync status", mirror_sql("sync_status.sql"), {"series": list(series)})
        return {str(s): f"{'pending' if p else ''} {e or ''}".strip() for s, p, e, _ in rows}

    def _pass(self, connect: Connect, run: Callable[[ConvexMirror], MirrorReport]) -> MirrorReport:
        if not self.enabled:
            return MirrorReport(status="off")
        try:
            mirror = self.mirror(connect)
        except ValueError as exc:
            return MirrorReport(status="failed", error=f"misconfigured: {exc}")
        try:
            return run(mirror)
        finally:
            mirror.close()
