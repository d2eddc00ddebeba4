"""The symbols asset and the universe listing: complete, filtered, with a fallback, never destructive."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.candles.conftest import failure_text, materialize_symbols
from tests.conftest import MigratedDatabase, inject
from vietmarket_pipelines.defs.candles.partitions import TICKERS
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderError
from vietmarket_pipelines.providers.universe import fetch_universe, vndirect_listing
from vietmarket_pipelines.simulator.server import SimulatorServer

FAST = HttpPolicy(requests=100, per_seconds=1, timeout_s=2, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)


def symbol_rows(db: MigratedDatabase) -> dict[str, tuple[str | None, bool, str]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ticker, exchange, active, kind FROM symbols")
        rows = {t: (ex, active, kind) for t, ex, active, kind in cur.fetchall()}
    conn.close()
    return rows


def test_symbols_asset_lists_the_whole_market_and_adds_partitions(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    result = materialize_symbols(instance, clean_db, sim)
    assert result.success
    rows = symbol_rows(clean_db)
    stocks = {t: r for t, r in rows.items() if r[2] == "stock"}
    assert {ex: sum(1 for r in stocks.values() if r[0] == ex) for ex in ("HOSE", "HNX", "UPCOM")} == {
        "HOSE": 390,
        "HNX": 310,
        "UPCOM": 890,
    }
    assert {t for t, r in rows.items() if r[2] == "index"} == {"VNINDEX", "VN30", "HNXINDEX", "UPCOMINDEX"}
    assert all(r[0] is not None for r in rows.values()), "every symbol has an exchange"
    assert set(instance.get_dynamic_partitions(TICKERS)) == set(rows)
    md = result.asset_materializations_for_node("symbols")[0].metadata
    assert md["listed_stocks"].value == 1590 and md["source"].value == "vci"


def test_vanished_tickers_turn_inactive_and_keep_their_history(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO symbols (ticker, name, exchange, active) VALUES ('OLDCO', 'Gone', 'HOSE', true)")
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
            "VALUES ('OLDCO', '1d', 1770940800000, 1, 1, 1, 1, 1, 'vci')"
        )
    conn.close()
    assert materialize_symbols(instance, clean_db, sim).success
    assert symbol_rows(clean_db)["OLDCO"] == ("HOSE", False, "stock")
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM candles WHERE ticker = 'OLDCO'")
        assert cur.fetchone() == (1,)
    conn.close()


def test_vndirect_is_the_fallback_when_vci_fails(clean_db: MigratedDatabase, sim: SimulatorServer) -> None:
    inject(sim, route="vci-listing", fault="503")
    with ProviderClient("vci", sim.url, policy=FAST) as vci, ProviderClient("vndirect", sim.url, policy=FAST) as vnd:
        universe = fetch_universe(vci, vnd)
    assert universe.source == "vndirect"
    assert universe.stock_count == 1590
    assert "vci listing getAll: gave up after 2 attempts" in universe.problems[0]


def test_vndirect_listing_follows_every_page(sim: SimulatorServer) -> None:
    with ProviderClient("vndirect", sim.url, policy=FAST) as vnd:
        listings = vndirect_listing(vnd, page_size=500)
    assert len(listings) == 1590 and len({x.ticker for x in listings}) == 1590


def test_a_partial_listing_changes_nothing(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_symbols(instance, clean_db, sim).success
    result = materialize_symbols(instance, clean_db, sim, min_listed_stocks=5000)
    assert not result.success
    error_text = failure_text(result)
    assert "no complete ticker listing from any source" in error_text
    assert "only 1590 stocks (< 5000); treated as partial" in error_text
    assert all(active for _, active, _ in symbol_rows(clean_db).values())


def test_universe_fails_loudly_when_every_source_is_down(sim: SimulatorServer) -> None:
    inject(sim, route="vci-listing", fault="500")
    inject(sim, route="vnd-listing", fault="timeout", delay=3)
    with (
        ProviderClient("vci", sim.url, policy=FAST) as vci,
        ProviderClient(
            "vndirect", sim.url, policy=HttpPolicy(timeout_s=0.3, max_attempts=2, backoff_initial_s=0.01)
        ) as vnd,
        pytest.raises(ProviderError, match="no complete ticker listing"),
    ):
        fetch_universe(vci, vnd)
