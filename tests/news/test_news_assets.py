"""The news assets end to end against the simulator's Vietstock: times, dedupe, fetches, links, retries, crawl."""

from __future__ import annotations

from datetime import UTC, date

import dagster as dg
from litestar.testing import TestClient

from history_api.app import create_app
from history_api.settings import Settings
from tests.conftest import MigratedDatabase, inject
from tests.news.conftest import materialization_metadata, materialize_news, rows
from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.simulator.news import CHANNELS, PER_CHANNEL
from vietmarket_pipelines.simulator.server import SimulatorServer

FEED_ITEMS = 40  # the simulator's feeds list each channel's newest 40
ALL_AT_ONCE = {"max_fetch_per_run": 500}


def test_a_run_reads_every_feed_stores_each_article_once_and_fetches_them(
    news_db: MigratedDatabase, sim: SimulatorServer
) -> None:
    result = materialize_news(news_db, sim, ALL_AT_ONCE)
    meta = materialization_metadata(result)
    (count,) = rows(news_db, "SELECT count(*) FROM articles")[0]
    assert meta["feeds_read"] == 4 and meta["feeds_failed"] == 0
    assert meta["new_articles"] == count == meta["fetched"] and meta["failed"] == 0
    # 4 feeds x 40 items; the stories company-results shares with the stocks feed are stored once.
    shared = rows(news_db, "SELECT url, feed_urls FROM articles WHERE cardinality(feed_urls) = 2")
    assert count == 4 * FEED_ITEMS - len(shared) and shared
    assert all(
        sorted(f) == ["/737/doanh-nghiep/hoat-dong-kinh-doanh.rss", "/830/chung-khoan/co-phieu.rss"] for _, f in shared
    )
    # Every URL variant the feeds used (scheme, case, utm, slash) became one canonical https URL.
    assert rows(
        news_db,
        "SELECT count(*) FROM articles WHERE url !~ '^https://vietstock\\.vn/[0-9]{4}/[0-9]{2}/[a-z-]+-[0-9]+\\.htm$'",
    ) == [(0,)]
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    # The simulated market's clock stops on 2026-02-13; by the real clock these articles are stale.
    assert checks == {"fetched_articles_are_complete": True, "failed_fetch_share": True, "news_freshness": False}


def test_published_at_is_the_true_instant_of_the_vietnam_time(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    materialize_news(news_db, sim, ALL_AT_ONCE)
    stored = dict(rows(news_db, "SELECT url, published_at FROM articles"))
    for article in sim.simulator.news.articles:
        url = f"https://vietstock.vn{article.path}"
        if url in stored:
            assert stored[url] == article.published.astimezone(UTC), url
    # The simulated clock's newest article: 15:38 ICT on 2026-02-13 is 08:38Z.
    newest = max(stored.values())
    assert newest.astimezone(VN_TZ).date() == date(2026, 2, 13)


def test_fetched_articles_have_titles_text_and_links(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    materialize_news(news_db, sim, ALL_AT_ONCE)
    bad = rows(
        news_db,
        "SELECT url FROM articles WHERE fetch_status <> 'fetched' OR title IS NULL OR title LIKE 'http%%' "
        "OR published_at IS NULL OR word_count < 10 OR lang <> 'vi' OR length(content_sha256) <> 64",
    )
    assert bad == []
    stored = {u for (u,) in rows(news_db, "SELECT url FROM articles")}
    checked = 0
    for article in sim.simulator.news.articles:
        url = f"https://vietstock.vn{article.path}"
        if url not in stored or not article.tickers:
            continue
        linked = [t for (t,) in rows(news_db, "SELECT ticker FROM article_symbols WHERE article_url = %s", (url,))]
        assert article.tickers[0] in linked, (article.title, linked)
        checked += 1
    assert checked > 50


def test_a_second_run_adds_nothing_and_fetches_nothing(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    materialize_news(news_db, sim, ALL_AT_ONCE)
    before = rows(news_db, "SELECT url, updated_at, fetched_at FROM articles ORDER BY url")
    meta = materialization_metadata(materialize_news(news_db, sim, ALL_AT_ONCE))
    assert (meta["new_articles"], meta["fetched"], meta["failed"]) == (0, 0, 0)
    assert rows(news_db, "SELECT url, updated_at, fetched_at FROM articles ORDER BY url") == before


def test_a_broken_feed_loses_only_itself_and_a_dead_site_fails_the_run(
    news_db: MigratedDatabase, sim: SimulatorServer
) -> None:
    inject(sim, route="vietstock-rss", fault="broken_xml", symbol="761")
    meta = materialization_metadata(materialize_news(news_db, sim, ALL_AT_ONCE))
    assert meta["feeds_read"] == 3 and meta["feeds_failed"] == 1
    assert rows(news_db, "SELECT count(*) FROM articles WHERE url LIKE '%%/vi-mo-%%'") == [(0,)]
    inject(sim, route="vietstock-rss", fault="503")
    failed = materialize_news(news_db, sim, ALL_AT_ONCE, raise_on_error=False)
    assert not failed.success
    assert "every feed failed" in str(failed.get_step_failure_events()[0].step_failure_data.error)


def test_failed_pages_retry_with_growing_delay_up_to_the_limit(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    broken = "73700003"
    inject(sim, route="vietstock-article", fault="500", symbol=broken)
    config = {**ALL_AT_ONCE, "max_fetch_attempts": 3, "retry_base_delay_s": 60.0}
    meta = materialization_metadata(materialize_news(news_db, sim, config))
    assert meta["failed"] == 1 and meta["fetched"] == meta["new_articles"] - 1
    url = f"https://vietstock.vn/2026/02/hoat-dong-kinh-doanh-{broken}.htm"
    query = (
        "SELECT fetch_status, fetch_attempts, round(extract(epoch FROM next_fetch_at - updated_at)), fetch_error "
        "FROM articles WHERE url = %s"
    )
    status, attempts, delay, error = rows(news_db, query, (url,))[0]
    assert (status, attempts, delay) == ("failed", 1, 60)
    assert "HTTP 500" in error and url in error

    def make_due() -> None:
        conn = news_db.connect()
        with conn, conn.cursor() as cur:
            cur.execute("UPDATE articles SET next_fetch_at = now() - interval '1 second' WHERE url = %s", (url,))
        conn.close()

    # Not yet due: the next run leaves it alone.
    assert materialization_metadata(materialize_news(news_db, sim, config))["failed"] == 0
    make_due()
    materialize_news(news_db, sim, config)
    assert rows(news_db, query, (url,))[0][:3] == ("failed", 2, 120)
    make_due()
    materialize_news(news_db, sim, config)
    status, attempts, next_delay, _ = rows(news_db, query, (url,))[0]
    assert (status, attempts, next_delay) == ("failed", 3, None)  # the limit: never retried again
    # The check on failure share notices; nothing else was lost.
    assert rows(news_db, "SELECT count(*) FROM articles WHERE fetch_status = 'fetched'")[0][0] == meta["fetched"]


def test_a_failed_page_recovers_when_the_fault_clears(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    inject(sim, route="vietstock-article", fault="timeout", symbol="73700004", times=2)
    materialize_news(news_db, sim, {**ALL_AT_ONCE, "retry_base_delay_s": 0.0}, vietstock={"timeout_seconds": 0.5})
    meta = materialization_metadata(materialize_news(news_db, sim, ALL_AT_ONCE))
    assert meta["fetched"] == 1
    assert rows(news_db, "SELECT fetch_status, fetch_error FROM articles WHERE url LIKE '%%-73700004.htm'") == [
        ("fetched", None)
    ]


def test_a_page_without_meta_tags_keeps_the_feed_time(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    inject(sim, route="vietstock-article", fault="no_meta", symbol="83000005")
    materialize_news(news_db, sim, ALL_AT_ONCE)
    ((title, published, status),) = rows(
        news_db, "SELECT title, published_at, fetch_status FROM articles WHERE url LIKE '%%-83000005.htm'"
    )
    article = sim.simulator.news.by_id(83000005)
    assert article is not None
    assert status == "fetched" and title == article.title  # from <title>, without " | Vietstock"
    assert published == article.published.astimezone(UTC)


def test_the_backfill_crawl_stops_after_empty_pages_and_resumes(
    news_db: MigratedDatabase, sim: SimulatorServer
) -> None:
    channel = 739
    config = {"channels": [channel], "max_pages_per_run": 2, "stop_after_empty_pages": 2}
    first = materialization_metadata(materialize_news(news_db, sim, config, asset=_backfill()))
    assert first["listing_pages_read"] == 2 and first["articles_added"] == 40
    assert rows(news_db, "SELECT next_page, empty_pages, finished FROM news_crawl_state") == [(3, 0, False)]
    # The second run resumes at page 3, not page 1.
    second = materialization_metadata(
        materialize_news(news_db, sim, {**config, "max_pages_per_run": 50}, asset=_backfill())
    )
    pages = PER_CHANNEL // 20
    assert second["articles_added"] == PER_CHANNEL - 40
    assert rows(news_db, "SELECT finished FROM news_crawl_state") == [(True,)]
    assert second["listing_pages_read"] == pages - 2 + 1  # the rest, then one empty page ends the channel
    # Crawled articles are pending with their listing title, and the scheduled asset fetches them.
    assert (
        rows(news_db, "SELECT count(*) FROM articles WHERE fetch_status = 'pending' AND title IS NOT NULL")[0][0]
        == PER_CHANNEL
    )
    meta = materialization_metadata(materialize_news(news_db, sim, ALL_AT_ONCE))
    assert meta["failed"] == 0
    assert rows(news_db, "SELECT count(*) FROM articles WHERE fetch_status <> 'fetched'") == [(0,)]
    # A finished channel is not crawled again unless restarted.
    again = materialization_metadata(materialize_news(news_db, sim, config, asset=_backfill()))
    assert again["listing_pages_read"] == 0
    restarted = materialization_metadata(materialize_news(news_db, sim, {**config, "restart": True}, asset=_backfill()))
    assert restarted["listing_pages_read"] == 2 and restarted["articles_added"] == 0
    assert len(CHANNELS) == 4


def test_the_history_api_serves_these_articles(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    materialize_news(news_db, sim, ALL_AT_ONCE)
    key = "news-test-key-" + "x" * 20
    with TestClient(create_app(Settings(pg_url=news_db.reader_dsn, api_keys=(key,)))) as client:
        client.headers["X-API-Key"] = key
        seen, cursor = [], None
        while True:
            page = client.get("/news/latest", params={"limit": 25} | ({"cursor": cursor} if cursor else {})).json()
            seen += page["rows"]
            # nextCursor is the old server's object; nextToken the same position, opaque.
            cursor = page["nextToken"]
            if cursor is None:
                break
        stored = rows(
            news_db, "SELECT url FROM articles WHERE fetch_status = 'fetched' ORDER BY published_at DESC, url DESC"
        )
        assert stored, "the run fetched its articles"
        assert [a["url"] for a in seen] == [u for (u,) in stored]
        ticker, n = rows(
            news_db,
            "SELECT ticker, count(*) FROM article_symbols s JOIN articles a ON a.url = s.article_url "
            "WHERE a.fetch_status = 'fetched' GROUP BY ticker ORDER BY count(*) DESC, ticker LIMIT 1",
        )[0]
        by_ticker = client.get("/news/by-ticker", params={"ticker": ticker, "limit": 200}).json()
        assert by_ticker["count"] == n and all(ticker in a["tickers"] for a in by_ticker["rows"])


def _backfill() -> dg.AssetsDefinition:
    from vietmarket_pipelines.defs.news.assets import news_backfill

    return news_backfill


def test_the_vietstock_budget_is_shared_through_the_database(news_db: MigratedDatabase, sim: SimulatorServer) -> None:
    materialize_news(
        news_db, sim, {"max_fetch_per_run": 5}, vietstock={"pacing": TimescaleResource(dsn=news_db.writer_dsn)}
    )
    assert "vietstock" in [p for (p,) in rows(news_db, "SELECT provider FROM provider_pacing")]
