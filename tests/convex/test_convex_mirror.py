"""The Convex mirror against a local stand-in speaking Convex's HTTP API: shapes, batching, deltas, budgets,
and a canonical write that survives every Convex failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import materialize_candles
from tests.conftest import MigratedDatabase
from tests.news.conftest import materialization_metadata, materialize_news
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.simulator.convex import ConvexStandIn, start_convex_in_thread
from vietmarket_pipelines.simulator.server import SimulatorServer
from vietmarket_pipelines.timescale.candle_store import CandleStore

DEPLOY_KEY = "prod:happy-otter-123|" + "k" * 40
TICKERS = ["VCB", "FPT", "HPG", "SSI", "MWG"]


@pytest.fixture(scope="module")
def convex_server() -> Iterator[ConvexStandIn]:
    server = start_convex_in_thread(DEPLOY_KEY)
    yield server
    server.shutdown()


@pytest.fixture
def stand_in(convex_server: ConvexStandIn) -> Iterator[ConvexStandIn]:
    httpx.delete(f"{convex_server.url}/_convex")
    yield convex_server
    httpx.delete(f"{convex_server.url}/_convex")


def convex(server: ConvexStandIn, **overrides: Any) -> ConvexMirrorResource:
    settings: dict[str, Any] = {
        "url": server.url,
        "deploy_key": DEPLOY_KEY,
        "keep_bars": 100,
        "timeframes": ["1d"],
        "max_bars_per_call": 250,
        "timeout_seconds": 1.0,
        "min_interval_seconds": 0.0,
        **overrides,
    }
    return ConvexMirrorResource(**settings)


def requests(server: ConvexStandIn) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/_convex/requests").json())


def state(server: ConvexStandIn) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/_convex/state").json())


def fault(server: ConvexStandIn, **rule: Any) -> None:
    httpx.post(f"{server.url}/_convex/faults", json=rule).raise_for_status()


def mirror_status(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        str(e.materialization.metadata["convex_mirror"].value)
        for e in result.get_asset_materialization_events()
        if "convex_mirror" in e.materialization.metadata
    }


def sync_check(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the in-sync check passed for every series of the run (it reports one result per partition)."""
    evaluations = [c for c in result.get_asset_check_evaluations() if "convex" in c.check_name]
    (summary,) = [c for c in evaluations if c.partition is None]
    per_partition = [c for c in evaluations if c.partition is not None]
    # The candles' own materializations (the step may also report the trading calendar it refreshed).
    materialized = sorted(
        str(e.partition) for e in result.get_asset_materialization_events() if e.asset_key == candles.key
    )
    assert sorted(str(c.partition) for c in per_partition) == materialized
    assert summary.passed == all(c.passed for c in per_partition)
    return all(c.passed for c in evaluations)


def stored_bars(db: MigratedDatabase) -> int:
    conn = db.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM candles_1d WHERE ticker = ANY (%s)", (TICKERS,))
        (n,) = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return int(n)


def test_request_shape_auth_batching_and_pruning(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    result = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    assert result.success and mirror_status(result) == {"sent"} and sync_check(result)
    calls = requests(stand_in)
    assert {(c["endpoint"], c["path"], c["format"], c["authorization"]) for c in calls} == {
        ("/api/mutation", "candles:upsertLatest", "json", f"Convex {DEPLOY_KEY}")
    }
    # 5 series x 100 bars, at most 250 bars a call, a series never split: 2 + 2 + 1.
    assert [len(c["args"]["series"]) for c in calls] == [2, 2, 1]
    assert all(c["args"]["keep"] == 100 for c in calls)
    bar = calls[0]["args"]["series"][0]["bars"][0]
    assert set(bar) == {"ts", "o", "h", "l", "c", "v", "source"} and bar["source"] == "vci"
    # Convex holds exactly the newest 100 bars of each series; Timescale holds all of them.
    held = state(stand_in)["candles"]
    assert set(held) == {f"{t}:1d" for t in TICKERS} and all(len(ts) == 100 for ts in held.values())
    assert stored_bars(clean_db) > 5 * 1000


def test_nothing_is_sent_when_no_slice_changed(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    before = len(requests(stand_in))
    again = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    assert again.success and mirror_status(again) == {"in_sync"} and sync_check(again)
    assert len(requests(stand_in)) == before


def revise_newest_vcb_bar(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        # A provider revision of VCB's newest bar, as the next upsert would write it.
        cur.execute(
            "UPDATE candles_1d SET c = c + 0.1, ingested_at = now() + interval '1 hour' "
            "WHERE ticker = 'VCB' AND ts = (SELECT max(ts) FROM candles_1d WHERE ticker = 'VCB')"
        )
    conn.close()


def test_a_recently_mirrored_series_waits_unless_the_pass_is_forced(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    paced = convex(stand_in, min_interval_seconds=900.0)
    materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=paced)
    revise_newest_vcb_bar(clean_db)
    calls = len(requests(stand_in))
    mirror = paced.mirror(CandleStore(clean_db.writer_dsn).connection)
    deferred = mirror.mirror_candles([(t, "1d") for t in TICKERS])
    assert (deferred.status, deferred.series_deferred, deferred.calls) == ("in_sync", 1, 0)
    assert len(requests(stand_in)) == calls
    forced = mirror.mirror_candles([(t, "1d") for t in TICKERS], force=True)
    assert (forced.status, forced.series_sent, forced.calls) == ("sent", 1, 1)
    # The close pass forces it through the IO manager too (it writes active tickers only).
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO symbols (ticker) SELECT unnest(%s::text[])", (TICKERS,))
    conn.close()
    revise_newest_vcb_bar(clean_db)
    close = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=paced, tags={"vietmarket/mode": "close"})
    assert mirror_status(close) == {"sent"}


def test_only_revised_bars_travel(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    revise_newest_vcb_bar(clean_db)
    httpx.delete(f"{stand_in.url}/_convex")  # forget the calls (and Convex's copy) so far
    report = (
        convex(stand_in)
        .mirror(CandleStore(clean_db.writer_dsn).connection)
        .mirror_candles([(t, "1d") for t in TICKERS])
    )
    assert (report.status, report.calls, report.series_sent, report.series_unchanged) == ("sent", 1, 1, 4)
    (call,) = requests(stand_in)
    (series,) = call["args"]["series"]
    assert series["ticker"] == "VCB" and len(series["bars"]) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"fault": "error"},
        {"fault": "429"},
        {"fault": "500"},
        {"fault": "timeout", "delay": 3},
        "disabled",
    ],
    ids=["error-envelope", "429", "500", "timeout", "deployment-disabled"],
)
def test_the_canonical_write_survives_every_convex_failure_and_the_slice_is_retried(
    instance: dg.DagsterInstance,
    clean_db: MigratedDatabase,
    sim: SimulatorServer,
    stand_in: ConvexStandIn,
    failure: Any,
) -> None:
    if failure == "disabled":
        httpx.post(f"{stand_in.url}/_convex/disable", json=True)
    else:
        fault(stand_in, **failure)
    failed = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    assert failed.success, "a Convex failure must not fail the run"
    assert mirror_status(failed) == {"failed"}
    assert stored_bars(clean_db) > 5 * 1000  # Timescale has every bar
    assert not sync_check(failed)
    # The fault clears: the next run sends the slices that did not arrive, and the check is green.
    httpx.delete(f"{stand_in.url}/_convex")
    healed = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in))
    assert mirror_status(healed) == {"sent"} and sync_check(healed)
    assert len(state(stand_in)["candles"]) == 5


def test_the_daily_budget_pauses_mirroring_with_a_warning(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    result = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in, max_calls_per_day=2))
    assert result.success and mirror_status(result) == {"paused"} and not sync_check(result)
    assert len(requests(stand_in)) == 2
    conn = clean_db.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT calls FROM convex_budget")
        assert cur.fetchall() == [(2,)]
        cur.execute("SELECT count(*) FROM convex_mirror_state WHERE pending")
        assert cur.fetchone() == (1,)  # the fifth series waits for tomorrow's budget
    conn.close()
    # The budget persists across runs: another run the same day sends nothing.
    again = materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=convex(stand_in, max_calls_per_day=2))
    assert mirror_status(again) == {"paused"} and len(requests(stand_in)) == 2
    # A per-run cap pauses too, independently of the day's budget.
    run_capped = convex(stand_in, max_calls_per_day=100, max_calls_per_run=0)
    assert mirror_status(materialize_candles(instance, clean_db, sim, TICKERS, "1d", convex=run_capped)) == {"paused"}


def test_unmirrored_timeframes_and_a_disabled_mirror_send_nothing(
    instance: dg.DagsterInstance, clean_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    materialize_candles(instance, clean_db, sim, ["VCB"], "1h", convex=convex(stand_in))
    off = materialize_candles(instance, clean_db, sim, ["VCB"], "1d", convex=ConvexMirrorResource())
    assert off.success and sync_check(off)
    assert requests(stand_in) == []


def test_the_news_slice_is_mirrored_once(
    news_db: MigratedDatabase, sim: SimulatorServer, stand_in: ConvexStandIn
) -> None:
    mirror = convex(stand_in, keep_articles=30)
    first = materialization_metadata(materialize_news(news_db, sim, {"max_fetch_per_run": 500}, convex=mirror))
    assert first["convex_mirror"] == "sent" and first["convex_bars_sent"] == 30
    (call,) = requests(stand_in)
    assert call["path"] == "articles:upsertLatest" and call["args"]["keep"] == 30
    article = call["args"]["articles"][0]
    assert set(article) == {"url", "title", "publishedAt", "source", "tickers"}
    assert article["url"].startswith("https://vietstock.vn/")
    assert len(state(stand_in)["articles"]) == 30
    # Nothing new: no fetch, no mirror call.
    materialize_news(news_db, sim, {"max_fetch_per_run": 500}, convex=mirror)
    assert len(requests(stand_in)) == 1


def test_the_stand_in_validates_like_convex(stand_in: ConvexStandIn) -> None:
    url = f"{stand_in.url}/api/mutation"
    body = {"path": "candles:upsertLatest", "args": {"keep": 5, "series": []}, "format": "json"}
    assert httpx.post(url, json=body).json()["status"] == "error"  # internal: needs the deploy key
    assert httpx.post(url, json=body, headers={"Authorization": "Convex wrong"}).status_code == 401
    auth = {"Authorization": f"Convex {DEPLOY_KEY}"}
    bad = {**body, "args": {"keep": 5, "series": [{"ticker": "VCB", "tf": "5m", "bars": []}]}}
    assert "tf" in httpx.post(url, json=bad, headers=auth).json()["errorMessage"]
    too_many = {**body, "args": {"keep": 5, "series": [{"ticker": "VCB", "tf": "1d", "bars": [{}] * 8193}]}}
    assert "8192" in httpx.post(url, json=too_many, headers=auth).json()["errorMessage"]
    assert httpx.post(url, json=body, headers=auth).json() == {
        "status": "success",
        "value": {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0},
        "logLines": [],
    }
