"""The news checks' rules: freshness follows the trading calendar; incomplete and failing fetches are caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from tests.conftest import MigratedDatabase
from tests.news.conftest import materialize_news
from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.news.checks import FRESHNESS, is_stale
from vietmarket_pipelines.simulator.server import SimulatorServer

CALENDAR = TradingCalendar()
FRIDAY_NOON = datetime(2026, 2, 13, 12, 0, tzinfo=VN_TZ)  # a trading day
SATURDAY = datetime(2026, 2, 14, 12, 0, tzinfo=VN_TZ)
TET = datetime(2026, 2, 18, 12, 0, tzinfo=VN_TZ)  # Lunar New Year holiday, a weekday


def test_freshness_on_trading_days_only() -> None:
    assert not is_stale(FRIDAY_NOON - timedelta(hours=1), FRIDAY_NOON, CALENDAR)
    assert is_stale(FRIDAY_NOON - FRESHNESS - timedelta(minutes=1), FRIDAY_NOON, CALENDAR)
    assert is_stale(None, FRIDAY_NOON, CALENDAR)
    assert not is_stale(FRIDAY_NOON - timedelta(days=1), SATURDAY, CALENDAR)
    assert not is_stale(FRIDAY_NOON - timedelta(days=5), TET, CALENDAR)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_planted_incomplete_and_failed_articles_turn_the_checks_red(
    news_db: MigratedDatabase, sim: SimulatorServer
) -> None:
    conn = news_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO articles (url, title, published_at, fetch_status) VALUES "
            "('https://vietstock.vn/a.htm', NULL, now(), 'fetched'), "
            "('https://vietstock.vn/b.htm', 'B', NULL, 'fetched')"
        )
        cur.execute(
            "INSERT INTO articles (url, title, fetch_status, fetch_attempts) "
            "SELECT 'https://vietstock.vn/f-' || i || '.htm', 'F', 'failed', 5 FROM generate_series(1, 400) i"
        )
    conn.close()
    # The blocking check fails the run, as it should; the evaluations are what this test reads.
    checks = evaluations(materialize_news(news_db, sim, {"max_fetch_per_run": 0}, raise_on_error=False))
    complete = checks["fetched_articles_are_complete"]
    assert not complete.passed and complete.severity == dg.AssetCheckSeverity.ERROR
    assert complete.metadata["incomplete"].value == 2
    share = checks["failed_fetch_share"]
    assert not share.passed and share.metadata["failed"].value == 400
    assert datetime.now(UTC) > FRIDAY_NOON  # the planted rows are "today"; the sample sits in the past
