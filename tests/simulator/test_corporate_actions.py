"""Corporate actions: a deterministic calendar, adjusted = raw x factor, the control call, finfo and its faults."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import SIM_NOW
from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.simulator.actions import CALENDAR_END
from vietmarket_pipelines.simulator.faults import FaultRule
from vietmarket_pipelines.simulator.market import REAL_TICKERS, SimulatedMarket
from vietmarket_pipelines.simulator.server import SimulatorServer, start_in_thread

TODAY = SIM_NOW.date()
TO = int(SIM_NOW.timestamp())
FEB = "q=code:{}~date:gte:2026-02-01~date:lte:2026-02-13"


def vci(server: SimulatorServer, symbol: str, count_back: int = 8000) -> dict[str, list[Any]]:
    body = {"timeFrame": "ONE_DAY", "symbols": [symbol], "to": TO, "countBack": count_back}
    response = httpx.post(f"{server.url}/api/chart/OHLCChart/gap-chart", json=body)
    response.raise_for_status()
    return response.json()[0]  # type: ignore[no-any-return]


def udf(server: SimulatorServer, path: str, symbol: str) -> dict[str, list[Any]]:
    params: dict[str, str | int] = {"symbol": symbol, "resolution": "1D", "from": 0, "to": TO}
    response = httpx.get(f"{server.url}{path}", params=params)
    response.raise_for_status()
    payload = response.json()
    return payload.get("data", payload)  # type: ignore[no-any-return]


def finfo(server: SimulatorServer, query: str, path: str = "/v4/stock_prices") -> dict[str, Any]:
    sort = "" if "sort=" in query else "&sort=date"
    response = httpx.get(f"{server.url}{path}?{query}{sort}")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_the_calendar_is_seeded_stable_and_ends_before_the_pinned_bars() -> None:
    market, again = SimulatedMarket(), SimulatedMarket()
    stocks = [t.symbol for t in market.listed_stocks()]
    assert all(market.calendar(s) == again.calendar(s) for s in stocks[::7]), "same seed, same calendar"
    assert SimulatedMarket(seed=8).calendar("VCB") != market.calendar("VCB")
    kinds: Counter[str] = Counter()
    for symbol in stocks:
        actions = market.calendar(symbol)
        assert all(a.ex_date <= CALENDAR_END for a in actions)
        assert len({a.ex_date for a in actions}) == len(actions), "at most one action a day"
        kinds.update(a.kind for a in actions)
    assert set(kinds) == {"cash_dividend", "stock_dividend", "bonus", "split"}
    for symbol in REAL_TICKERS["HOSE"].split():
        listed = market.tickers[symbol].listed
        per_year = len(market.calendar(symbol)) / ((CALENDAR_END - listed).days / 365.25)
        assert 0.3 < per_year < 3.5, (symbol, per_year)


def test_adjusted_is_raw_times_the_factors_of_later_actions() -> None:
    market = SimulatedMarket()
    raw, adjusted = market.daily("VCB", TODAY, "raw"), market.daily("VCB", TODAY)
    days = raw["day"]
    later = np.ones(len(days))
    for action in market.calendar("VCB"):
        later[days < action.ex_date.toordinal()] *= action.factor
    assert later[0] < 0.5, "VCB's history is restated by several actions"
    for k in "ohlc":
        assert np.array_equal(adjusted[k], np.round(raw[k] * later, 2)), k
    assert np.array_equal(adjusted["v"], raw["v"]), "volumes are not adjusted"
    last_ex = max(a.ex_date for a in market.calendar("VCB") if a.kind != "cash_dividend").toordinal()
    after = days >= last_ex
    assert np.array_equal(adjusted["c"][after], raw["c"][after])
    assert not np.array_equal(adjusted["c"][~after], raw["c"][~after])


def test_a_cash_dividend_is_not_adjusted_for_but_lowers_the_reference() -> None:
    market = SimulatedMarket()
    p = market.prices("VCB", TODAY)
    cash = [a for a in market.calendar("VCB") if a.kind == "cash_dividend"]
    assert cash
    for action in cash:
        i = int(np.searchsorted(p["day"], action.ex_date.toordinal()))
        assert p["factor"][i - 1] == p["factor"][i], "no step in the adjusted series"
        assert p["cash"][i] > 0
        assert abs(p["ref"][i] - (p["c"][i - 1] - p["cash"][i])) <= 0.05 + 1e-9


def test_the_sources_agree_on_each_view(clean_sim: SimulatorServer) -> None:
    market = clean_sim.simulator.market
    adjusted, raw = market.daily("VCB", TODAY), market.daily("VCB", TODAY, "raw")
    assert vci(clean_sim, "VCB")["c"] == [round(x * 1000) for x in adjusted["c"].tolist()]
    assert udf(clean_sim, "/statistics/charts/history", "VCB")["c"] == adjusted["c"].tolist()
    assert udf(clean_sim, "/dchart/history", "VCB")["c"] == raw["c"].tolist()
    rows = finfo(clean_sim, "q=code:VCB&size=9990")["data"]
    assert [r["close"] for r in rows] == raw["c"].tolist()
    assert [r["adClose"] for r in rows] == adjusted["c"].tolist()


def test_a_stock_dividend_going_ex_today_restates_vci_and_ssi_only(clean_sim: SimulatorServer) -> None:
    before_vci, before_ssi = vci(clean_sim, "VCB"), udf(clean_sim, "/statistics/charts/history", "VCB")
    before_vnd = udf(clean_sim, "/dchart/history", "VCB")
    before_rows = finfo(clean_sim, FEB.format("VCB"))["data"]
    action = {"symbol": "VCB", "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}
    response = httpx.post(f"{clean_sim.url}/_sim/corporate-actions", json=action)
    assert response.status_code == 200, response.text
    assert response.json()["actions"][0]["factor"] == pytest.approx(1 / 1.2)

    after_vci, after_ssi = vci(clean_sim, "VCB"), udf(clean_sim, "/statistics/charts/history", "VCB")
    after_vnd = udf(clean_sim, "/dchart/history", "VCB")
    assert len(after_vci["c"]) == len(before_vci["c"])
    # Every earlier bar times 1/1.2, to the hundredth of a thousand VND both before and after.
    assert all(abs(a - b / 1.2) <= 10 for a, b in zip(after_vci["c"][:-1], before_vci["c"][:-1], strict=True))
    assert all(abs(a - b / 1.2) <= 0.0101 for a, b in zip(after_ssi["c"][:-1], before_ssi["c"][:-1], strict=True))
    assert after_vnd["c"][:-1] == before_vnd["c"][:-1] and after_vnd["t"] == before_vnd["t"], "raw history stays"
    # The ex-date's own bar trades on the new basis: its reference is the adjusted previous close.
    rows = finfo(clean_sim, FEB.format("VCB"))["data"]
    assert [r["close"] for r in rows[:-1]] == [r["close"] for r in before_rows[:-1]]
    ex_row, prev_row = rows[-1], rows[-2]
    assert ex_row["date"] == TODAY.isoformat() and ex_row["adClose"] == ex_row["close"]
    assert abs(ex_row["basicPrice"] - prev_row["close"] / 1.2) <= 0.025 + 1e-9
    assert ex_row["floorPrice"] <= ex_row["low"] <= ex_row["high"] <= ex_row["ceilingPrice"]
    assert prev_row["adClose"] == pytest.approx(round(before_rows[-2]["adClose"] / 1.2, 2), abs=0.0101)
    assert abs(prev_row["adClose"] / prev_row["close"] - 1 / 1.2) < 0.001, "adClose / close steps on the ex-date"

    listed = httpx.get(f"{clean_sim.url}/_sim/corporate-actions", params={"symbol": "VCB"}).json()["actions"]
    added = [a for a in listed if a["origin"] == "added"]
    assert added == [{**added[0], "kind": "stock_dividend", "ratio": 0.2, "ex_session": TODAY.isoformat()}]
    assert httpx.delete(f"{clean_sim.url}/_sim/corporate-actions").json() == {"ok": True, "dropped": 1}
    assert vci(clean_sim, "VCB") == before_vci, "the reset restores the calendar"


def test_an_action_going_ex_after_today_changes_nothing_yet(clean_sim: SimulatorServer) -> None:
    before = vci(clean_sim, "FPT", 300)
    action = {"symbol": "FPT", "kind": "split", "ratio": 2, "ex_date": "2026-02-16"}
    assert httpx.post(f"{clean_sim.url}/_sim/corporate-actions", json=action).status_code == 200
    assert vci(clean_sim, "FPT", 300) == before


@pytest.mark.parametrize(
    "body",
    [
        {"symbol": "VCB", "kind": "merger", "ratio": 1, "ex_date": "today"},
        {"symbol": "VCB", "kind": "split", "ratio": 1, "ex_date": "today"},
        {"symbol": "VCB", "kind": "cash_dividend", "ratio": 0.1, "ex_date": "today"},
        {"symbol": "VNINDEX", "kind": "bonus", "ratio": 0.1, "ex_date": "today"},
        {"symbol": "VCB", "kind": "bonus", "ratio": 0.1, "ex_date": "today", "extra": 1},
    ],
)
def test_the_control_call_refuses_what_it_does_not_define(clean_sim: SimulatorServer, body: dict[str, Any]) -> None:
    response = httpx.post(f"{clean_sim.url}/_sim/corporate-actions", json=body)
    assert response.status_code == 400, response.text
    assert httpx.get(f"{clean_sim.url}/_sim/corporate-actions").json() == {"added": []}


def test_finfo_pages_add_up_to_the_window(clean_sim: SimulatorServer) -> None:
    query = "q=code:FPT~date:gte:2025-01-01~date:lte:2025-12-31&size=100"
    first = finfo(clean_sim, query)
    sessions = [d for d in clean_sim.simulator.market.sessions_until(TODAY) if d.year == 2025]
    assert first["totalElements"] == len(sessions) and first["totalPages"] == -(-len(sessions) // 100)
    rows = [
        row for page in range(1, first["totalPages"] + 1) for row in finfo(clean_sim, f"{query}&page={page}")["data"]
    ]
    assert [r["date"] for r in rows] == [d.isoformat() for d in sessions]
    row = rows[0]
    assert row["code"] == "FPT" and row["floor"] == "HOSE" and row["type"] == "STOCK"
    assert row["change"] == pytest.approx(row["close"] - row["basicPrice"], abs=1e-9)
    assert row["nmValue"] == pytest.approx(row["average"] * 1000 * row["nmVolume"], rel=1e-9)
    newest = finfo(clean_sim, query.replace("size=100", "size=1") + "&sort=date:desc")["data"]
    assert newest[0]["date"] == sessions[-1].isoformat()


def test_finfo_index_prices(clean_sim: SimulatorServer) -> None:
    rows = finfo(clean_sim, FEB.format("VNINDEX"), "/v4/vnmarket_prices")["data"]
    daily = clean_sim.simulator.market.daily("VNINDEX", TODAY)
    assert [r["close"] for r in rows] == daily["c"][-len(rows) :].tolist()
    for prev, row in itertools.pairwise(rows):
        assert row["change"] == pytest.approx(row["close"] - prev["close"], abs=0.011)
        assert row["advances"] + row["declines"] + row["noChange"] == 390
    assert finfo(clean_sim, FEB.format("VNINDEX"))["data"] == [], "stock_prices has no indices"


def inject(server: SimulatorServer, fault: str, route: str = "finfo-prices") -> None:
    httpx.post(f"{server.url}/_sim/faults", json={"route": route, "fault": fault, "symbol": "VCB", "times": 1})


def test_fault_short_page(clean_sim: SimulatorServer) -> None:
    inject(clean_sim, "short_page")
    page = finfo(clean_sim, "q=code:VCB&size=50&page=2")
    assert len(page["data"]) < page["size"] and page["currentPage"] < page["totalPages"]
    assert len(finfo(clean_sim, "q=code:VCB&size=50&page=2")["data"]) == 50, "one use"


def test_fault_missing_adclose(clean_sim: SimulatorServer) -> None:
    inject(clean_sim, "missing_adclose")
    rows = finfo(clean_sim, FEB.format("VCB"))["data"]
    assert "adClose" not in rows[-1] and all("adClose" in r for r in rows[:-1])


def test_fault_band_violation(clean_sim: SimulatorServer) -> None:
    inject(clean_sim, "band_violation")
    rows = finfo(clean_sim, FEB.format("VCB"))["data"]
    assert rows[-1]["high"] > rows[-1]["ceilingPrice"]
    assert all(r["high"] <= r["ceilingPrice"] for r in rows[:-1])


def test_finfo_routes_name_themselves_for_fault_rules(clean_sim: SimulatorServer) -> None:
    FaultRule.parse({"route": "finfo-index-prices", "fault": "500"})
    inject(clean_sim, "503", "finfo-index-prices")
    response = httpx.get(f"{clean_sim.url}/v4/vnmarket_prices?q=code:VCB")
    assert response.status_code == 503
    assert clean_sim.simulator.requests["finfo-index-prices"] >= 1
    assert date.fromisoformat(finfo(clean_sim, FEB.format("VCB"))["data"][-1]["date"]) == TODAY


@pytest.mark.parametrize(("hour", "last"), [(8, "2026-02-12"), (10, "2026-02-13")])
def test_finfo_lists_a_session_once_it_has_opened(hour: int, last: str) -> None:
    server = start_in_thread(now=datetime(2026, 2, 13, hour, 30, tzinfo=VN_TZ))
    try:
        rows = finfo(server, FEB.format("ACV"))["data"]
        assert rows[-1]["date"] == last and rows[-1]["floor"] == "UPCOM"
    finally:
        server.shutdown()
