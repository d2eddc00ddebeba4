"""The TradingView UDF datafeed: config, symbol info, search, history with countback, no_data, W and M."""

from __future__ import annotations

from datetime import date

from tests.history_api.conftest import LAST_DAY, ApiDatabase, Client, daily_bar, trading_days
from vietmarket_core.market import daily_bar_ts


def s(d: date) -> int:
    return daily_bar_ts(d) // 1000


def test_config_and_time(client: Client) -> None:
    config = client.get("/udf/config").json()
    assert config["supported_resolutions"] == ["15", "60", "D", "W", "M"]
    assert config["supports_time"] is True and config["supports_search"] is True
    now = client.get("/udf/time")
    assert now.headers["content-type"].startswith("text/plain")
    assert int(now.text) > 1_700_000_000


def test_symbol_info(client: Client) -> None:
    info = client.get("/udf/symbols", params={"symbol": "HOSE:vcb"}).json()
    assert info["name"] == "VCB" and info["exchange"] == "HOSE" and info["type"] == "stock"
    assert info["session"] == "0900-1130,1300-1500"
    assert info["timezone"] == "Asia/Ho_Chi_Minh"
    assert info["pricescale"] == 100 and info["minmov"] == 1
    index = client.get("/udf/symbols", params={"symbol": "VNINDEX"}).json()
    assert index["type"] == "index" and index["exchange"] == "HOSE"
    missing = client.get("/udf/symbols", params={"symbol": "NOPE"})
    assert missing.status_code == 404 and missing.json() == {"s": "error", "errmsg": "unknown_symbol"}


def test_search_by_ticker_prefix_and_name(client: Client) -> None:
    found = client.get("/udf/search", params={"query": "vc", "limit": 10}).json()
    assert [r["symbol"] for r in found] == ["VCB", "VCG"]
    assert found[0]["full_name"] == "HOSE:VCB"
    by_name = client.get("/udf/search", params={"query": "sài gòn"}).json()
    assert [r["symbol"] for r in by_name] == ["SHB"]
    assert client.get("/udf/search", params={"query": "%"}).json() == []
    hnx = client.get("/udf/search", params={"query": "", "exchange": "HNX"}).json()
    assert [r["symbol"] for r in hnx] == ["SHB"]


def test_history_countback_is_the_newest_bars_before_to_ascending(client: Client, api_db: ApiDatabase) -> None:
    to = s(LAST_DAY)  # exclusive: the last day itself is not included
    body = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "D", "from": 0, "to": to, "countback": 10}
    ).json()
    assert body["s"] == "ok"
    expected = [ts // 1000 for ts in sorted(api_db.daily_ts) if ts // 1000 < to][-10:]
    assert body["t"] == expected
    assert len(body["o"]) == len(body["h"]) == len(body["l"]) == len(body["c"]) == len(body["v"]) == 10


def test_history_range_and_no_data_with_next_time(client: Client, api_db: ApiDatabase) -> None:
    days = trading_days()
    body = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "D", "from": s(days[100]), "to": s(days[110])}
    ).json()
    assert body["t"] == [s(d) for d in days[100:110]]
    i, d = 105, days[105]
    assert body["c"][5] == daily_bar(i, d)[6]
    # A range in the future holds nothing; nextTime points at the newest bar before it.
    empty = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "D", "from": s(LAST_DAY) + 86400, "to": 2_000_000_000}
    ).json()
    assert empty == {"s": "no_data", "nextTime": s(LAST_DAY)}
    # Before the first bar there is nothing at all.
    before_all = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "D", "from": 0, "to": s(days[0]), "countback": 5}
    ).json()
    assert before_all == {"s": "no_data"}


def test_intraday_resolution_60_maps_to_1h(client: Client, api_db: ApiDatabase) -> None:
    body = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "60", "from": 0, "to": 2_000_000_000, "countback": 5}
    ).json()
    assert body["t"] == [ts // 1000 for ts in sorted(api_db.hourly_ts)[-5:]]


def test_weekly_bars_are_anchored_on_the_first_trading_date(client: Client) -> None:
    days = trading_days()
    body = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "W", "from": s(date(2025, 12, 1)), "to": s(LAST_DAY) + 86400},
    ).json()
    weeks: dict[tuple[int, int], list[tuple[int, date]]] = {}
    for i, d in enumerate(days):
        if d >= date(2025, 12, 1):
            weeks.setdefault(d.isocalendar()[:2], []).append((i, d))
    assert body["t"] == [s(members[0][1]) for members in weeks.values()]
    # One bucket's aggregation in full.
    members = next(iter(weeks.values()))
    bars = [daily_bar(i, d) for i, d in members]
    assert body["o"][0] == bars[0][3]
    assert body["h"][0] == max(b[4] for b in bars)
    assert body["l"][0] == min(b[5] for b in bars)
    assert body["c"][0] == bars[-1][6]
    assert body["v"][0] == sum(b[7] for b in bars)


def test_buckets_that_start_on_a_closed_day_are_stamped_with_the_day_trading_resumed(client: Client) -> None:
    # Monday 1 and Tuesday 2 September 2025 were National Day holidays.
    week = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "W", "from": s(date(2025, 8, 25)), "to": s(date(2025, 9, 6))},
    ).json()
    assert week["t"] == [s(date(2025, 8, 25)), s(date(2025, 9, 3))]
    # 1 March 2014 was a Saturday: the March bar is stamped Monday 3 March.
    month = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "M", "from": s(date(2014, 1, 1)), "to": s(date(2014, 4, 1))},
    ).json()
    assert month["t"] == [s(date(2014, 1, 2)), s(date(2014, 2, 3)), s(date(2014, 3, 3))]


def test_monthly_countback(client: Client) -> None:
    body = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "M", "from": 0, "to": s(LAST_DAY) + 86400, "countback": 3},
    ).json()
    assert body["t"] == [s(date(2025, 12, 1)), s(date(2026, 1, 1)), s(date(2026, 2, 2))]


def test_bad_resolution_and_times(client: Client) -> None:
    res = client.get("/udf/history", params={"symbol": "VCB", "resolution": "5", "from": 0, "to": 1})
    assert res.status_code == 400 and res.json()["error"] == "invalid_resolution"
    res = client.get("/udf/history", params={"symbol": "VCB", "resolution": "D", "from": -5, "to": 1})
    assert res.status_code == 400 and res.json()["error"] == "invalid_from"
