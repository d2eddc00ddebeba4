"""Checks on the stored articles: complete fetched rows block; failure share and freshness warn."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.assets import news_articles
from vietmarket_pipelines.defs.news.store import sql

MAX_FAILED_SHARE = 0.2
FRESHNESS = timedelta(hours=6)


@dg.asset_check(asset=news_articles, blocking=True, description="No fetched article lacks a title or a publish time.")
def fetched_articles_are_complete(timescale: TimescaleResource) -> dg.AssetCheckResult:
    with timescale.store().connection() as conn, conn.cursor() as cur:
        cur.execute(sql("check_fetched_complete.sql"))
        bad = [url for (url,) in cur.fetchall()]
    return dg.AssetCheckResult(
        passed=not bad, severity=dg.AssetCheckSeverity.ERROR, metadata={"incomplete": len(bad), "sample": bad[:5]}
    )


@dg.asset_check(asset=news_articles, description=f"Under {MAX_FAILED_SHARE:.0%} of the last day's pages failed.")
def failed_fetch_share(timescale: TimescaleResource) -> dg.AssetCheckResult:
    with timescale.store().connection() as conn, conn.cursor() as cur:
        cur.execute(sql("check_failed_share.sql"))
        failed, attempted = cur.fetchone()  # type: ignore[misc]
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
    with timescale.store().connection() as conn, conn.cursor() as cur:
        cur.execute(sql("check_newest_article.sql"))
        (newest,) = cur.fetchone()  # type: ignore[misc]
    now = datetime.now(UTC)
    return dg.AssetCheckResult(
        passed=not is_stale(newest, now, TradingCalendar()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"newest_published_at": str(newest), "checked_at": now.isoformat()},
    )


NEWS_CHECKS = (fetched_articles_are_complete, failed_fetch_share, news_freshness)
