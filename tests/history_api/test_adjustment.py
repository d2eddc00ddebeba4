"""adjustment=raw on /candles and /udf/history: the traded prices, against a market where adjusted != raw.

The market is prices_market.py's: VCB's traded and adjusted series around a 10 % bonus issue
(ex 2026-01-19) and a 20 % stock dividend (ex 2026-02-23), with finfo's daily prices.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from tests.history_api.conftest import HOURLY_OPENS, KEY, Client, Params, api_settings
from tests.history_api.prices_market import (
    ACTIONS,
    DAYS,
    FACT_BAR,
    FACT_DAY,
    FACT_VOLUME,
    HOURLY_DAYS,
    PricesDatabase,
    prices_db,
)
from vietmarket_core.market import daily_bar_ts, trading_date_of

__all__ = ["prices_db"]  # the fixture, shared with tests/client


@pytest.fixture(scope="module")
def client(prices_db: PricesDatabase) -> Iterator[Client]:
    with TestClient(create_app(api_settings(prices_db.reader_dsn))) as c:
        c.headers["X-API-Key"] = KEY
        yield c


def walk(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Every bar of a series, page by page through nextBeforeTs."""
    rows: list[dict[str, Any]] = []
    query: dict[str, Any] = {"ticker": "VCB", "limit": 7, **params}
    while True:
        page = client.get("/candles", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body["rows"]
        if body["nextBeforeTs"] is None:
            return rows
        query["beforeTs"] = body["nextBeforeTs"]


def test_raw_daily_bars_are_finfo_traded_prices(client: Client, prices_db: PricesDatabase) -> None:
    rows = walk(client, tf="1d", adjustment="raw")
    expected = [
        {"ts": p.ts, "o": p.open, "h": p.high, "l": p.low, "c": p.close, "v": p.nm_volume, "source": "finfo"}
        for p in sorted(prices_db.prices, key=lambda p: -p.ts)
    ]
    assert rows == expected
    assert len({r["ts"] for r in rows}) == len(DAYS)


def test_vcb_closed_at_64_4_on_2026_02_13_in_the_raw_basis(client: Client) -> None:
    before = daily_bar_ts(date(2026, 2, 14))
    raw = client.get(
        "/candles", params={"ticker": "VCB", "tf": "1d", "beforeTs": before, "limit": 1, "adjustment": "raw"}
    )
    bar = raw.json()["rows"][0]
    assert bar["ts"] == 1770940800000  # 00:00 UTC of 2026-02-13, the old system's ts
    assert (bar["o"], bar["h"], bar["l"], bar["c"], bar["v"]) == (*FACT_BAR, FACT_VOLUME)
    # The same date on the adjusted basis carries the stock dividend that went ex ten days later.
    adjusted = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "beforeTs": before, "limit": 1}).json()
    assert adjusted["rows"][0]["c"] == round(64.4 / 1.2, 2) != 64.4
    udf = client.get(
        "/udf/history",
        params={"symbol": "HOSE:VCB", "resolution": "D", "from": 1770940800, "to": 1770940800 + 86400,
                "adjustment": "raw"},
    ).json()  # fmt: skip
    assert udf["t"] == [1770940800] and udf["c"] == [64.4] and udf["o"] == [64.7]


def test_adjusted_is_the_default_byte_for_byte(client: Client) -> None:
    for tf in ("1d", "1h"):
        for before in ({}, {"beforeTs": daily_bar_ts(date(2026, 2, 20))}):
            plain = client.get("/candles", params={"ticker": "VCB", "tf": tf, **before})
            explicit = client.get("/candles", params={"ticker": "VCB", "tf": tf, "adjustment": "adjusted", **before})
            raw = client.get("/candles", params={"ticker": "VCB", "tf": tf, "adjustment": "raw", **before})
            assert plain.content == explicit.content and plain.headers["etag"] == explicit.headers["etag"]
            assert raw.content != plain.content and raw.headers["etag"] != plain.headers["etag"]
            again = client.get(
                "/candles",
                params={"ticker": "VCB", "tf": tf, "adjustment": "raw", **before},
                headers={"If-None-Match": raw.headers["etag"]},
            )
            assert again.status_code == 304
            # An adjusted page's ETag does not validate the raw page, nor the other way round.
            crossed = client.get(
                "/candles",
                params={"ticker": "VCB", "tf": tf, "adjustment": "raw", **before},
                headers={"If-None-Match": plain.headers["etag"]},
            )
            assert crossed.status_code == 200
    udf: Params = {"symbol": "VCB", "resolution": "60", "from": 0, "to": 2_000_000_000}
    assert (
        client.get("/udf/history", params=udf).content
        == client.get("/udf/history", params={**udf, "adjustment": "adjusted"}).content
    )


def stored_cumfactor(client: Client) -> Callable[[date], float]:
    """cumfactor(d) from the finfo actions the API lists: the product of their factors after d."""
    rows = client.get("/corporate-actions/by-ticker", params={"ticker": "VCB"}).json()["rows"]
    finfo = [(date.fromisoformat(r["ex_date"]), r["factor"]) for r in rows if r["source"] == "finfo"]
    assert len(finfo) == len(ACTIONS)
    return lambda d: math.prod(f for ex, f in finfo if ex > d)


def test_raw_intraday_is_adjusted_divided_by_the_cumulative_factor(client: Client, prices_db: PricesDatabase) -> None:
    adjusted = walk(client, tf="1h")
    raw = walk(client, tf="1h", adjustment="raw")
    assert [r["ts"] for r in raw] == [r["ts"] for r in adjusted]
    assert len(raw) == len(HOURLY_DAYS) * len(HOURLY_OPENS) == len({r["ts"] for r in raw})
    cumfactor_of = stored_cumfactor(client)
    unadjusted_days = set()
    for a, r in zip(adjusted, raw, strict=True):
        d = trading_date_of(a["ts"], "1h")
        cf = cumfactor_of(d)
        traded = prices_db.hourly_raw[a["ts"]]
        for k, price in zip("ohlc", traded, strict=True):
            assert r[k] == (a[k] if cf == 1 else round(a[k] / cf, 2)), (d, k, a, r)
            # Back within rounding of the price that traded: the adjusted bar's 0.005, grown by 1/cf.
            assert abs(r[k] - price) <= 0.005 / cf + 0.005 + 1e-9, (d, k, r[k], price)
        assert r["v"] == a["v"] and r["source"] == a["source"] == "vci"
        if cf != 1:
            unadjusted_days.add(d)
    assert min(unadjusted_days) == HOURLY_DAYS[0] and max(unadjusted_days) == FACT_DAY
    # From the stock dividend's ex-date on the bars are on today's basis: raw equals adjusted.
    after = [r for r in raw if trading_date_of(r["ts"], "1h") >= date(2026, 2, 23)]
    assert after and all(r in adjusted for r in after)


def test_udf_history_raw_matches_candles_raw(client: Client) -> None:
    raw_1h = sorted(walk(client, tf="1h", adjustment="raw"), key=lambda r: r["ts"])
    udf = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "60", "from": 0, "to": 2_000_000_000, "adjustment": "raw"},
    ).json()
    assert udf["t"] == [r["ts"] // 1000 for r in raw_1h]
    assert udf["c"] == [r["c"] for r in raw_1h] and udf["h"] == [r["h"] for r in raw_1h]
    countback = client.get(
        "/udf/history",
        params={
            "symbol": "VCB",
            "resolution": "60",
            "from": 0,
            "to": 2_000_000_000,
            "countback": 3,
            "adjustment": "raw",
        },
    ).json()
    assert countback["c"] == udf["c"][-3:]


def test_udf_weekly_raw_is_built_from_raw_days(client: Client, prices_db: PricesDatabase) -> None:
    week = [p for p in prices_db.prices if date(2026, 2, 9) <= p.trading_date <= date(2026, 2, 13)]
    body = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "W", "from": daily_bar_ts(date(2026, 2, 9)) // 1000,
                "to": daily_bar_ts(date(2026, 2, 14)) // 1000, "adjustment": "raw"},
    ).json()  # fmt: skip
    assert body["t"] == [week[0].ts // 1000]
    assert body["o"] == [week[0].open] and body["c"] == [64.4]
    assert body["h"] == [max(p.high for p in week)] and body["l"] == [min(p.low for p in week)]
    assert body["v"] == [sum(p.nm_volume for p in week)]


def test_no_raw_row_means_no_raw_bar(client: Client) -> None:
    # FPT has no finfo rows, and nothing after VCB's last finfo row is a raw bar.
    empty = client.get("/candles", params={"ticker": "FPT", "tf": "1d", "adjustment": "raw"}).json()
    assert empty["count"] == 0 and empty["rows"] == [] and empty["nextBeforeTs"] is None
    nothing = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "D", "from": daily_bar_ts(date(2026, 3, 9)) // 1000,
                "to": 2_000_000_000, "adjustment": "raw"},
    ).json()  # fmt: skip
    assert nothing == {"s": "no_data", "nextTime": daily_bar_ts(DAYS[-1]) // 1000}


@pytest.mark.parametrize("path", ["/candles", "/udf/history"])
@pytest.mark.parametrize("value", ["unadjusted", "RAW", "", "raw\x01", "raw "])
def test_a_bad_adjustment_is_400_invalid_adjustment(client: Client, path: str, value: str) -> None:
    params: dict[str, Any] = (
        {"ticker": "VCB", "tf": "1d"}
        if path == "/candles"
        else {"symbol": "VCB", "resolution": "D", "from": 0, "to": 1}
    )
    res = client.get(path, params={**params, "adjustment": value})
    assert res.status_code == 400, res.text
    assert res.json()["ok"] is False and res.json()["error"] == "invalid_adjustment"
    # A NUL byte never reaches a parameter: the whole query string is refused first.
    nul = client.get(path, params={**params, "adjustment": value + "\x00"})
    assert nul.status_code == 400 and nul.json()["error"] == "invalid_request"


def test_openapi_says_what_raw_means(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path in ("/candles", "/udf/history"):
        (param,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "adjustment"]
        assert set(param["schema"]["enum"]) == {"adjusted", "raw"} and param.get("required") is not True
        text = param["description"]
        for words in ("cumulative factor", "ex_date", "0.01 thousand VND", "order-matching volume", "finfo"):
            assert words in text, (path, words)
        assert "400" in paths[path]["get"]["responses"]


def test_corporate_action_pages_are_capped_at_500(client: Client) -> None:
    page = client.get("/corporate-actions/by-ticker", params={"ticker": "FPT", "limit": 5000}).json()
    assert page["count"] == 500 and len(page["rows"]) == 500 and page["nextCursor"] is not None
    assert client.get("/corporate-actions/by-ticker", params={"ticker": "FPT"}).json()["count"] == 50
    rest = client.get(
        "/corporate-actions/by-ticker", params={"ticker": "FPT", "limit": 500, **page["nextCursor"]}
    ).json()
    assert rest["count"] == 20 and rest["nextCursor"] is None
    ids = [r["id"] for r in page["rows"] + rest["rows"]]
    assert len(set(ids)) == 520
    latest = client.get("/corporate-actions/latest", params={"limit": 501}).json()
    assert latest["count"] == 500
    assert [r["ex_date"] for r in latest["rows"][:3]] == ["2026-02-23", "2026-02-23", "2026-01-19"]
    assert all(a["ex_date"] >= b["ex_date"] for a, b in itertools.pairwise(latest["rows"]))


def test_finfo_factors_as_seeded(client: Client) -> None:
    rows = client.get("/corporate-actions/by-ticker", params={"ticker": "VCB"}).json()["rows"]
    finfo = {r["ex_date"]: r for r in rows if r["source"] == "finfo"}
    assert set(finfo) == {"2026-02-23", "2026-01-19"}
    assert finfo["2026-02-23"]["factor"] == pytest.approx(1 / 1.2, rel=1e-3)
    assert finfo["2026-01-19"]["cumulative_factor"] == pytest.approx(1 / 1.32, rel=1e-3)
