"""`convex_mirror_in_sync`: red while a changed slice has not reached Convex (failure, or a spent budget)."""

from typing import Any

import dagster as dg

from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.convex.mirror import NEWS_SERIES, series_key
from vietmarket_pipelines.defs.candles.checks import (
    Finding,
    PartitionedCheckOutput,
    candle_check,
    per_partition,
    series_in_run,
)
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.assets import news_articles

SAMPLE = 10


def _out_of_sync(timescale: TimescaleResource, series: list[str] | None) -> dict[str, str]:
    """Why each requested series (every series for None) is out of sync: "pending" and/or its last error."""
    query = load_sql(__package__ or "vietmarket_pipelines.defs.convex", "sync_status.sql")
    rows = timescale.store().rows("convex sync status", query, {"series": series})
    return {str(s): f"{'pending' if p else ''} {e or ''}".strip() for s, p, e, _ in rows}


@candle_check(description="Every mirrored series of this run reached Convex.")
def candles_convex_mirror_in_sync(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource, convex: ConvexMirrorResource
) -> PartitionedCheckOutput:
    series = [(ticker, tf) for tf, tickers in series_in_run(context).items() for ticker in tickers]
    if not convex.enabled:
        yield from per_partition(context, {}, "", dg.AssetCheckSeverity.WARN, {"convex_mirror": "off"})
        return
    # One read for the whole run, however many partitions it covers.
    out = _out_of_sync(timescale, [series_key(t, tf) for t, tf in series])
    findings = {
        (t, tf): Finding(out[series_key(t, tf)], {"mirror_state": out[series_key(t, tf)]})
        for t, tf in series
        if series_key(t, tf) in out
    }
    yield from per_partition(context, findings, "not mirrored to Convex", dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=news_articles, description="The news slice reached Convex.")
def news_convex_mirror_in_sync(timescale: TimescaleResource, convex: ConvexMirrorResource) -> dg.AssetCheckResult:
    if not convex.enabled:
        return dg.AssetCheckResult(passed=True, metadata={"convex_mirror": "off"})
    out = _out_of_sync(timescale, [NEWS_SERIES])
    metadata: dict[str, Any] = {"out_of_sync": len(out), "sample": [f"{s}: {why}" for s, why in out.items()][:SAMPLE]}
    return dg.AssetCheckResult(passed=not out, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


CONVEX_CHECKS = (candles_convex_mirror_in_sync, news_convex_mirror_in_sync)
