"""`convex_mirror_in_sync`: red while a changed slice has not reached Convex (failure, or a spent budget)."""

from typing import Any

import dagster as dg

from vietmarket_pipelines.convex.mirror import NEWS_SERIES, mirror_sql, series_key
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import series_in_run
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.assets import news_articles


def _out_of_sync(timescale: TimescaleResource, series: list[str] | None) -> list[tuple[Any, ...]]:
    with timescale.store().connection() as conn, conn.cursor() as cur:
        cur.execute(mirror_sql("sync_status.sql"), {"series": series})
        return cur.fetchall()


def _result(convex: ConvexMirrorResource, rows: list[tuple[Any, ...]]) -> dg.AssetCheckResult:
    if not convex.enabled:
        return dg.AssetCheckResult(passed=True, metadata={"convex_mirror": "off"})
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "out_of_sync": len(rows),
            "sample": [f"{s}: {'pending' if p else ''} {e or ''}".strip() for s, p, e, _ in rows[:10]],
        },
    )


@dg.asset_check(asset=candles, description="Every mirrored series of this run reached Convex.")
def candles_convex_mirror_in_sync(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource, convex: ConvexMirrorResource
) -> dg.AssetCheckResult:
    keys = [series_key(t, tf) for tf, tickers in series_in_run(context).items() for t in tickers]
    return _result(convex, _out_of_sync(timescale, keys or None))


@dg.asset_check(asset=news_articles, description="The news slice reached Convex.")
def news_convex_mirror_in_sync(timescale: TimescaleResource, convex: ConvexMirrorResource) -> dg.AssetCheckResult:
    return _result(convex, _out_of_sync(timescale, [NEWS_SERIES]))


CONVEX_CHECKS = (candles_convex_mirror_in_sync, news_convex_mirror_in_sync)
