"""VCI parsing and normalization against recorded-shape payloads served over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from vietmarket_core.market import VN_TZ, intraday_bar_ts
from vietmarket_pipelines.bars import BarValidationError
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderPayloadError
from vietmarket_pipelines.providers.vci import HISTORY_PATH, VciProvider

FAST = HttpPolicy(requests=100, per_seconds=1, timeout_s=2, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05)
NOW = datetime(2026, 2, 14, tzinfo=UTC)


def ict(h: int, m: int, day: int = 13) -> int:
    return intraday_bar_ts(datetime(2026, 2, day, h, m, tzinfo=VN_TZ)) // 1000


def serve(httpserver: HTTPServer, payload: object) -> VciProvider:
    httpserver.expect_request(HISTORY_PATH, method="POST").respond_with_data(
        json.dumps(payload), content_type="application/json"
    )
    return VciProvider(httpserver.url_for(""), policy=FAST)


def test_vcb_daily_bar_from_a_raw_vnd_payload(httpserver: HTTPServer) -> None:
    # VCI stamps a daily bar at 00:00 ICT of the trading date and sends whole VND.
    payload = [
        {
            "symbol": "VCB",
            "t": [ict(0, 0, 12), ict(0, 0, 13)],
            "o": [64500, 64700],
            "h": [65000, 65100],
            "l": [64100, 64000],
            "c": [64700, 64400],
            "v": [3100000, 4951400],
            "accumulatedVolume": [3100000, 4951400],
        }
    ]
    provider = serve(httpserver, payload)
    result = provider.fetch(["VCB"], "1d", None, NOW)
    assert result.errors == {}
    last = result.series["VCB"].frame.iloc[-1].to_dict()
    assert last == {"ts": 1770940800000, "o": 64.7, "h": 65.1, "l": 64.0, "c": 64.4, "v": 4951400.0}
    request = json.loads(httpserver.log[0][0].data)
    assert request["timeFrame"] == "ONE_DAY" and request["symbols"] == ["VCB"] and request["to"] == int(NOW.timestamp())
    assert request["countBack"] > 5000
    headers = httpserver.log[0][0].headers
    assert headers["Referer"] == "https://trading.vietcap.com.vn/"
    assert "Mozilla" in headers["User-Agent"]


def test_indices_are_not_divided(httpserver: HTTPServer) -> None:
    payload = [
        {"symbol": "VNINDEX", "t": [ict(0, 0)], "o": [1750.5], "h": [1760.25], "l": [1740.0], "c": [1755.1], "v": [8e8]}
    ]
    frame = serve(httpserver, payload).fetch(["VNINDEX"], "1d", None, NOW).series["VNINDEX"].frame
    assert frame.iloc[0][["o", "h", "l", "c"]].tolist() == [1750.5, 1760.25, 1740.0, 1755.1]


def minute_payload(minutes: list[tuple[int, int]], start_price: int = 64000) -> dict[str, object]:
    n = len(minutes)
    price = [start_price + 10 * i for i in range(n)]
    return {
        "symbol": "VCB",
        "t": [ict(h, m) for h, m in minutes],
        "o": price,
        "h": [p + 50 for p in price],
        "l": [p - 50 for p in price],
        "c": [p + 10 for p in price],
        "v": [100] * n,
    }


def test_intraday_bar_at_1445_ict_lands_at_0745z(httpserver: HTTPServer) -> None:
    provider = serve(httpserver, [minute_payload([(14, 45 + i) for i in range(15)])])
    frame = provider.fetch(["VCB"], "15m", None, NOW).series["VCB"].frame
    assert frame["ts"].tolist() == [1770968700000]
    assert datetime.fromtimestamp(1770968700, tz=UTC).strftime("%H:%M") == "07:45"


def test_15m_bins_skip_the_lunch_break(httpserver: HTTPServer) -> None:
    # 11:15..11:29, the 11:30 closing print, then 13:00..13:14.
    minutes = [(11, 15 + i) for i in range(15)] + [(11, 30)] + [(13, i) for i in range(15)]
    provider = serve(httpserver, [minute_payload(minutes)])
    frame = provider.fetch(["VCB"], "15m", None, NOW).series["VCB"].frame
    assert frame["ts"].tolist() == [ict(11, 15) * 1000, ict(13, 0) * 1000]
    morning = frame.iloc[0]
    # first / max / min / last / sum over the 16 minutes of the 11:15 bin, in thousands of VND
    assert (morning.o, morning.h, morning.l, morning.c, morning.v) == (64.0, 64.2, 63.95, 64.16, 1600.0)


def test_a_minute_inside_the_lunch_break_is_rejected(httpserver: HTTPServer) -> None:
    provider = serve(httpserver, [minute_payload([(11, 29), (12, 0)])])
    result = provider.fetch(["VCB"], "15m", None, NOW)
    assert "VCB" not in result.series
    assert "outside the sessions" in str(result.errors["VCB"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(c=p["c"][:-1]), "arrays of unequal length"),
        (lambda p: p["c"].__setitem__(1, float("nan")), "field 'c' has nan"),
        (lambda p: p["o"].__setitem__(1, "64.7"), "non-numeric value '64.7'"),
        (lambda p: p.update(h=[63000, 63000], l=[65000, 65000]), "h 63.0 < l 65.0"),
        (lambda p: p["c"].__setitem__(1, 70000), "c 70.0 outside [l 64.0, h 65.1]"),
        (lambda p: p["v"].__setitem__(1, -5), "negative volume"),
        (lambda p: p["t"].__setitem__(1, p["t"][0]), "is duplicated"),
        (lambda p: p["t"].reverse(), "is out of order"),
        (lambda p: p["t"].__setitem__(1, int(time.time()) + 40 * 86400), "in the future"),
    ],
)
def test_strict_validation_names_provider_ticker_tf_and_problem(httpserver: HTTPServer, mutate, message) -> None:  # type: ignore[no-untyped-def]
    element = {
        "symbol": "VCB",
        "t": [ict(0, 0, 12), ict(0, 0, 13)],
        "o": [64500, 64700],
        "h": [65000, 65100],
        "l": [64100, 64000],
        "c": [64700, 64400],
        "v": [3100000, 4951400],
    }
    mutate(element)
    result = serve(httpserver, [element]).fetch(["VCB"], "1d", None, NOW)
    assert "VCB" not in result.series
    error = result.errors["VCB"]
    assert isinstance(error, BarValidationError)
    assert str(error).startswith("vci VCB 1d: ")
    assert message in str(error)


def test_an_answer_for_another_symbol_is_refused(httpserver: HTTPServer) -> None:
    element = {"symbol": "FPT", "t": [ict(0, 0)], "o": [1], "h": [1], "l": [1], "c": [1], "v": [1]}
    with pytest.raises(ProviderPayloadError, match="answered for symbol 'FPT', which was not requested"):
        serve(httpserver, [element]).fetch(["VCB"], "1d", None, NOW)


def test_truncated_json_is_a_payload_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(HISTORY_PATH, method="POST").respond_with_data(
        '[{"symbol": "VCB", "t": [1, 2', content_type="application/json"
    )
    with pytest.raises(ProviderPayloadError, match="vci history VCB 1d: response is not valid JSON"):
        VciProvider(httpserver.url_for(""), policy=FAST).fetch(["VCB"], "1d", None, NOW)


@pytest.mark.parametrize("tf", ["1d", "1h", "15m"])
def test_a_stale_series_never_asks_for_more_than_its_full_history(tf: str) -> None:
    provider = VciProvider("http://127.0.0.1:9", policy=FAST)
    full = provider.count_back(tf, None, NOW)  # type: ignore[arg-type]
    # A 15m series last stored a year ago: its window reaches far past the minute bars VCI keeps.
    year_ago = provider.count_back(tf, datetime(2025, 2, 14, tzinfo=UTC), NOW)  # type: ignore[arg-type]
    assert year_ago <= full
    if tf == "15m":
        assert year_ago == full == int(120 * 255 * 1.1) + 255  # 33,915 minutes, not 56,074
    # A recent window still asks for just its own days.
    assert provider.count_back(tf, datetime(2026, 2, 9, tzinfo=UTC), NOW) < full  # type: ignore[arg-type]
