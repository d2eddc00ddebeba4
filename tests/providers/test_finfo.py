"""VNDirect finfo daily prices against a local server speaking its wire format: paging, strictness, factor steps."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.providers.finfo import (
    INDEX_PRICES_PATH,
    STOCK_PRICES_PATH,
    FinfoPricesClient,
    adjustment_factors,
    cumulative_factors,
)
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderPayloadError

FAST = HttpPolicy(requests=100, per_seconds=1, timeout_s=2, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
JAN_2 = date(2024, 1, 2)
START, END = date(2024, 1, 1), date(2024, 1, 31)


def stock_row(code: str, day: date, close: float, ratio: float = 1.0, **override: Any) -> dict[str, Any]:
    """A stock_prices row as finfo sends it: thousands of VND, adjusted = raw x ratio rounded to 10 VND."""
    open_, high, low = close - 0.2, close + 0.3, close - 0.5
    row: dict[str, Any] = {
        "code": code, "date": day.isoformat(), "time": "15:04:03", "floor": "HOSE", "type": "STOCK",
        "basicPrice": close - 0.1, "ceilingPrice": round((close - 0.1) * 1.07, 1),
        "floorPrice": round((close - 0.1) * 0.93, 1),
        "open": open_, "high": high, "low": low, "close": close, "average": close - 0.05,
        "adOpen": round(open_ * ratio, 2), "adHigh": round(high * ratio, 2), "adLow": round(low * ratio, 2),
        "adClose": round(close * ratio, 2), "adAverage": round((close - 0.05) * ratio, 2),
        "nmVolume": 1_234_500.0, "nmValue": 105_000_000_000.0, "ptVolume": 20_000.0, "ptValue": 1_700_000_000.0,
        "change": 0.1, "adChange": 0.1, "pctChange": 0.12,
    }  # fmt: skip
    row.update(override)
    return row


def index_row(code: str, day: date, close: float) -> dict[str, Any]:
    return {
        "code": code, "date": day.isoformat(), "time": "15:10:00",
        "open": close - 3.0, "high": close + 4.5, "low": close - 6.25, "close": close,
        "change": 2.1, "pctChange": 0.18, "accumulatedVol": 650_000_000.0, "accumulatedVal": 15_900_000_000_000.0,
        "nmVolume": 600_000_000.0, "nmValue": 14_000_000_000_000.0, "ptVolume": 50_000_000.0,
        "ptValue": 1_900_000_000_000.0, "advances": 210, "declines": 150, "noChange": 55,
        "ceilingStocks": 4, "floorStocks": 2,
    }  # fmt: skip


def trading_days(n: int, first: date = JAN_2) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def serve(httpserver: HTTPServer, path: str, rows: list[dict[str, Any]], *, drop_on_page: int | None = None) -> None:
    """finfo's paging: `size` rows per `page` (1-based) of the rows matching `q`, sorted by date.

    `drop_on_page` loses one row of that page while the envelope still counts it, as a cut-short
    answer does.
    """

    def handler(request: Request) -> Response:
        query = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
        code_term, gte_term, lte_term = query["q"].split("~")  # code:VCB~date:gte:…~date:lte:…
        code, lo, hi = (
            code_term.removeprefix("code:"),
            gte_term.removeprefix("date:gte:"),
            lte_term.removeprefix("date:lte:"),
        )
        matching = sorted((r for r in rows if r["code"] == code and lo <= r["date"] <= hi), key=lambda r: r["date"])
        size, page = int(query["size"]), int(query["page"])
        data = matching[(page - 1) * size : page * size]
        if page == drop_on_page:
            data = data[:-1]
        body = {
            "data": data,
            "currentPage": page,
            "size": size,
            "totalElements": len(matching),
            "totalPages": -(-len(matching) // size),
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(path).respond_with_handler(handler)


def client(httpserver: HTTPServer, page_size: int = 9990) -> FinfoPricesClient:
    return FinfoPricesClient(httpserver.url_for(""), policy=FAST, page_size=page_size)


def test_stock_prices_follow_every_page_and_keep_both_bases(httpserver: HTTPServer) -> None:
    days = trading_days(5)
    serve(httpserver, STOCK_PRICES_PATH, [stock_row("VCB", d, 85.0 + i, ratio=0.9) for i, d in enumerate(days)])
    with client(httpserver, page_size=2) as finfo:
        prices = finfo.stock_prices("VCB", START, END)

    assert [p.ts for p in prices] == [daily_bar_ts(d) for d in days]
    assert [p.trading_date for p in prices] == days
    first = prices[0]
    assert (first.ticker, first.exchange, first.source) == ("VCB", "HOSE", "finfo")
    assert (first.open, first.high, first.low, first.close, first.average) == (84.8, 85.3, 84.5, 85.0, 84.95)
    assert (first.ad_open, first.ad_close) == (76.32, 76.5)
    assert (first.reference, first.ceiling, first.floor) == (84.9, 90.8, 79.0)
    assert (first.nm_volume, first.nm_value, first.pt_volume, first.pt_value) == (
        1_234_500.0,
        105_000_000_000.0,
        20_000.0,
        1_700_000_000.0,
    )
    requests = [parse_qs(request.query_string.decode()) for request, _ in httpserver.log]
    assert [r["page"] for r in requests] == [["1"], ["2"], ["3"]]
    assert requests[0]["q"] == ["code:VCB~date:gte:2024-01-01~date:lte:2024-01-31"]
    assert requests[0]["sort"] == ["date"] and requests[0]["size"] == ["2"]


def test_a_short_page_before_the_last_is_paging_cut_short(httpserver: HTTPServer) -> None:
    serve(httpserver, STOCK_PRICES_PATH, [stock_row("VCB", d, 85.0) for d in trading_days(5)], drop_on_page=2)
    with (
        client(httpserver, page_size=2) as finfo,
        pytest.raises(
            ProviderPayloadError, match=r"stock_prices VCB: paging cut short: page 2 of 3 has 1 rows, expected 2"
        ),
    ):
        finfo.stock_prices("VCB", START, END)


def test_a_last_page_short_of_total_elements_is_paging_cut_short(httpserver: HTTPServer) -> None:
    serve(httpserver, STOCK_PRICES_PATH, [stock_row("VCB", d, 85.0) for d in trading_days(5)], drop_on_page=3)
    with (
        client(httpserver, page_size=2) as finfo,
        pytest.raises(ProviderPayloadError, match=r"paging cut short: 4 rows over 3 pages, totalElements 5"),
    ):
        finfo.stock_prices("VCB", START, END)


def test_a_missing_adjusted_close_is_refused_not_filled(httpserver: HTTPServer) -> None:
    days = trading_days(3)
    rows = [stock_row("VCB", d, 85.0) for d in days]
    del rows[1]["adClose"]
    serve(httpserver, STOCK_PRICES_PATH, rows)
    with (
        client(httpserver) as finfo,
        pytest.raises(ProviderPayloadError, match=r"stock_prices VCB 2024-01-03: adClose missing"),
    ):
        finfo.stock_prices("VCB", START, END)


def test_a_null_adjusted_field_is_refused_too(httpserver: HTTPServer) -> None:
    serve(httpserver, STOCK_PRICES_PATH, [stock_row("VCB", JAN_2, 85.0, adAverage=None)])
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=r"VCB 2024-01-02: adAverage missing"):
        finfo.stock_prices("VCB", START, END)


def test_a_row_for_another_code_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request(STOCK_PRICES_PATH).respond_with_json(
        {"data": [stock_row("VCBF", JAN_2, 85.0)], "currentPage": 1, "size": 9990, "totalElements": 1, "totalPages": 1}
    )
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=r"row for code 'VCBF', not VCB"):
        finfo.stock_prices("VCB", START, END)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"close": "85.0"}, r"close is '85.0', not a number"),
        ({"low": 86.0}, r"low 86.0 > open 84.8"),
        ({"adHigh": 70.0}, r"ad_open 84.8 > ad_high 70.0"),
        ({"ceilingPrice": 80.0}, r"reference 84.9 > ceiling 80.0"),
        ({"nmVolume": -1.0}, r"nm_volume -1.0 is negative"),
        ({"open": 0.0, "low": 0.0, "adOpen": 0.0, "adLow": 0.0}, r"open 0.0 is not positive"),
        ({"floor": "HSX"}, r"floor 'HSX' is not one of HOSE, HNX, UPCOM"),
        ({"date": "2024/01/02"}, r"date '2024/01/02' is not YYYY-MM-DD"),
    ],
)
def test_a_malformed_row_rejects_the_whole_answer(
    httpserver: HTTPServer, override: dict[str, Any], problem: str
) -> None:
    rows = [stock_row("VCB", d, 85.0) for d in trading_days(3)]
    rows[0].update(override)
    httpserver.expect_request(STOCK_PRICES_PATH).respond_with_json(
        {"data": rows, "currentPage": 1, "size": 9990, "totalElements": 3, "totalPages": 1}
    )
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=problem):
        finfo.stock_prices("VCB", START, END)


def test_raw_vnd_where_thousands_belong_is_refused(httpserver: HTTPServer) -> None:
    serve(httpserver, STOCK_PRICES_PATH, [stock_row("VCB", JAN_2, 85_000.0)])
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=r"not in thousands of VND"):
        finfo.stock_prices("VCB", START, END)


@pytest.mark.parametrize(
    "dates", [["2024-01-03", "2024-01-02"], ["2024-01-02", "2024-01-02"]], ids=["descending", "twice"]
)
def test_dates_must_ascend_once_each(httpserver: HTTPServer, dates: list[str]) -> None:
    rows = [stock_row("VCB", date.fromisoformat(d), 85.0) for d in dates]
    httpserver.expect_request(STOCK_PRICES_PATH).respond_with_json(
        {"data": rows, "currentPage": 1, "size": 9990, "totalElements": 2, "totalPages": 1}
    )
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=r"dates must ascend, once each"):
        finfo.stock_prices("VCB", START, END)


def test_an_envelope_without_page_counts_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request(STOCK_PRICES_PATH).respond_with_json({"data": [], "totalPages": True})
    with client(httpserver) as finfo, pytest.raises(ProviderPayloadError, match=r"are not integers"):
        finfo.stock_prices("VCB", START, END)


def test_an_index_has_adjusted_equal_to_raw_and_no_band(httpserver: HTTPServer) -> None:
    days = trading_days(3)
    serve(httpserver, INDEX_PRICES_PATH, [index_row("VNINDEX", d, 1130.0 + i) for i, d in enumerate(days)])
    with client(httpserver, page_size=2) as finfo:
        prices = finfo.index_prices("VNINDEX", START, END)
        with pytest.raises(ValueError, match="VCB is not an index"):
            finfo.index_prices("VCB", START, END)
        with pytest.raises(ValueError, match="VNINDEX is an index"):
            finfo.stock_prices("VNINDEX", START, END)

    assert [p.ts for p in prices] == [daily_bar_ts(d) for d in days]
    for p in prices:
        assert p.exchange is None and p.reference is None and p.ceiling is None and p.floor is None
        assert (p.ad_open, p.ad_high, p.ad_low, p.ad_close) == (p.open, p.high, p.low, p.close)
        assert p.average is None and p.ad_average is None
    assert (prices[0].close, prices[0].low, prices[0].nm_value) == (1130.0, 1123.75, 14_000_000_000_000.0)
    assert adjustment_factors(prices) == []


def test_a_stock_dividend_is_one_factor_step_and_rounding_wobbles_are_not(httpserver: HTTPServer) -> None:
    # A 20 % stock dividend goes ex on the 4th day: before it, adjusted = raw / 1.2 rounded to
    # 10 VND, which makes the day-to-day ratio wobble in its 5th decimal.
    days = trading_days(6)
    closes = [30.05, 30.10, 29.95, 25.10, 25.15, 25.00]
    ratios = [1 / 1.2] * 3 + [1.0] * 3
    rows = [stock_row("FPT", d, c, ratio=r) for d, c, r in zip(days, closes, ratios, strict=True)]
    serve(httpserver, STOCK_PRICES_PATH, rows)
    with client(httpserver) as finfo:
        prices = finfo.stock_prices("FPT", START, END)

    ratios_seen = [p.adjustment_ratio for p in prices[:3]]
    assert len(set(ratios_seen)) == 3  # the wobble is there
    steps = adjustment_factors(prices)
    assert len(steps) == 1
    step = steps[0]
    assert step.ex_date == days[3]
    assert step.after_ratio == 1.0
    assert step.before_ratio == pytest.approx(24.96 / 29.95)
    assert step.factor == pytest.approx(1 / 1.2, rel=2e-4)
    assert cumulative_factors(steps) == [step.factor]


def test_a_lone_one_day_wobble_is_not_a_step_but_a_small_cash_dividend_is(httpserver: HTTPServer) -> None:
    days = trading_days(5)
    # At a factor of 0.83, 12.45 adjusts to 10.3335 -> 10.33 and 12.55 to 10.4165 -> 10.42: day 2's
    # ratio jumps by 0.07 % and falls back, rounding alone.  Day 4 goes ex on a 1 % cash dividend.
    closes = [12.45, 12.55, 12.45, 12.30, 12.35]
    ratios = [0.83] * 3 + [0.83 / 0.99] * 2
    serve(
        httpserver,
        STOCK_PRICES_PATH,
        [stock_row("HPG", d, c, ratio=r) for d, c, r in zip(days, closes, ratios, strict=True)],
    )
    with client(httpserver) as finfo:
        prices = finfo.stock_prices("HPG", START, END)

    assert prices[1].adjustment_ratio - prices[0].adjustment_ratio > 5e-4  # the wobble is real
    # Without the rounding bound every wobble would be a step (days 2, 3 and 5), and the dividend.
    assert [s.ex_date for s in adjustment_factors(prices, half_tick=0.0)] == days[1:]
    steps = adjustment_factors(prices)
    assert [s.ex_date for s in steps] == [days[3]]
    assert steps[0].factor == pytest.approx(0.99, rel=1e-3)
    two = [*steps, steps[0]]
    assert cumulative_factors(two) == pytest.approx([steps[0].factor ** 2, steps[0].factor])
