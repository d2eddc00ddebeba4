"""Checks on the stored articles: complete fetched rows block; failure share and freshness warn."""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from vietmarket_core.market import VN_TZ
from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.convex.mirror import NEWS_SERIES
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.assets import news_articles

MAX_FAILED_SHARE = 0.2
FRESHNESS = timedelta(hours=6)


def _read(timescale: TimescaleResource, name: str) -> list[tuple[Any, ...]]:
    """The rows of the check query `name`, read through the store's retries."""
    query = load_sql(__package__ or "vietmarket_pipelines.defs.news", name)
    return timescale.store().rows(name, query)


@dg.asset_check(asset=news_articles, blocking=True, description="No fetched article lacks a title or a publish time.")
def fetched_articles_are_complete(timescale: TimescaleResource) -> dg.AssetCheckResult:
    bad = [str(url) for (url,) in _read(timescale, "check_fetched_complete.sql")]
    return dg.AssetCheckResult(
        passed=not bad, severity=dg.AssetCheckSeverity.ERROR, metadata={"incomplete": len(bad), "sample": bad[:5]}
    )


@dg.asset_check(asset=news_articles, description=f"Under {MAX_FAILED_SHARE:.0%} of the last day's pages failed.")
def failed_fetch_share(timescale: TimescaleResource) -> dg.AssetCheckResult:
    ((failed, attempted),) = _read(timescale, "check_failed_share.sql")
    share = failed / attempted if attempted else 0.0
    return dg.AssetCheckResult(
        passed=share < MAX_FAILED_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed": failed, "attempted": attempted, "failed_share": round(share, 4)},
    )


def is_stale(newest: datetime | None, now: datetime, calendar: TradingCalendar) -> bool:
    """On trading days, stale when nothing was published in the last FRESHNESS; never on other days."""
    if not calendar.is_trading_day(now.astimezone(VN_TZ).date()):
        return False
    return newest is None or now - newest > FRESHNESS


@dg.asset_check(asset=news_articles, description=f"On trading days, an article within the last {FRESHNESS}.")
def news_freshness(timescale: TimescaleResource) -> dg.AssetCheckResult:
    ((newest,),) = _read(timescale, "check_newest_article.sql")
    now = datetime.now(UTC)
    return dg.AssetCheckResult(
        passed=not is_stale(newest, now, TradingCalendar()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"newest_published_at": str(newest), "checked_at": now.isoformat()},
    )


@dg.asset_check(asset=news_articles, description="The news slice reached Convex.")
def news_convex_mirror_in_sync(timescale: TimescaleResource, convex: ConvexMirrorResource) -> dg.AssetCheckResult:
    if not convex.enabled:
        return dg.AssetCheckResult(passed=True, metadata={"convex_mirror": "off"})
    out = convex.out_of_sync(timescale.store(), [NEWS_SERIES])
    metadata: dict[str, Any] = {"out_of_sync": len(out), "sample": [f"{s}: {why}" for s, why in out.items()][:10]}
    return dg.AssetCheckResult(passed=not out, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


NEWS_CHECKS = (fetched_articles_are_complete, failed_fetch_share, news_freshness)
