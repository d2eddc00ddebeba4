"""The old server's clients must not notice the switch: one test per difference found side by side.

The expected shapes are the old server's (deploy/history-api/server.mjs in nkgotcode/vietmarket):
field names, defaults, caps, orders and cursors as its clients read them.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from history_api.settings import Settings
from tests.conftest import require_env
from tests.history_api.conftest import (
    KEY,
    LAST_DAY,
    OTHER_KEY,
    PENDING_ARTICLE,
    ApiDatabase,
    Client,
    Params,
    api_settings,
)
from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

OLD_LATEST_ROW = ["ticker", "tf", "ts", "o", "h", "l", "c", "v", "source", "ingested_at"]
OLD_MOVER_ROW = ["ticker", "tf", "ts_latest", "close_latest", "close_prev", "pct_change"]
OLD_NEWS_ROW = {"url", "title", "source", "published_at", "snippet", "tickers"}
OLD_ACTION_ROW = ["id", "ticker", "exchange", "ex_date", "record_date", "pay_date", "headline", "event_type",
                  "source", "source_url", "ingested_at"]  # fmt: skip
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# The old server's caps, and the bulk route's own: a larger limit is served at the cap.
CAPS = {
    "/candles/bulk": 10_000,
    "/candles": 2000,
    "/latest": 2000,
    "/top-movers": 500,
    "/news/latest": 200,
    "/news/by-ticker": 200,
    "/corporate-actions/latest": 500,
    "/corporate-actions/by-ticker": 500,
}
REQUIRED = {"/candles": {"ticker": "VCB", "tf": "1d"}, "/candles/bulk": {"tickers": "VCB,FPT", "tf": "1d"},
            "/latest": {"tf": "1d"}, "/top-movers": {"tf": "1d"},
            "/news/by-ticker": {"ticker": "VCB"}, "/corporate-actions/by-ticker": {"ticker": "VCB"}}  # fmt: skip

# The market of the movers database: 520 tickers (more than /latest's default page), two sessions each.
MARKET = [f"T{i:03d}" for i in range(520)]
DAY1, DAY2 = daily_bar_ts(LAST_DAY) - 86_400_000, daily_bar_ts(LAST_DAY)


def close_pair(i: int) -> tuple[float, float]:
    """T000..T519's previous and newest close: a spread of rises and falls, one previous close of 0."""
    prev = 0.0 if i == 7 else 10.0 + i % 50
    return prev, 10.0 + (i * 37) % 61


@pytest.fixture(scope="module")
def market_client(admin_url: str) -> Iterator[Client]:
    name = f"vm_api_compat_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(admin_url, name)
    try:
        admin_dsn = with_database(admin_url, name)
        migrate(admin_dsn)
        rows = []
        for i, ticker in enumerate(MARKET):
            prev, last = close_pair(i)
            rows += [(ticker, "1d", DAY1, prev, prev, prev, prev, 404800.0, "vci"),
                     (ticker, "1d", DAY2, last, last, last, last, 404800.0 + i, "vci")]  # fmt: skip
        rows.append(("SOLO", "1d", DAY2, 5.0, 5.0, 5.0, 5.0, 1.0, "vci"))  # one bar: no previous close
        conn = psycopg2.connect(admin_dsn)
        with conn, conn.cursor() as cur:
            psycopg2.extras.execute_values(
                cur, "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES %s", rows
            )
        conn.close()
        reader = with_database(require_env("HISTORY_API_PG_URL"), name)
        with TestClient(create_app(api_settings(reader))) as c:
            c.headers["X-API-Key"] = KEY
            yield c
    finally:
        drop_database(admin_url, name)


# /healthz


def test_healthz_db_is_the_number_one(client: Client) -> None:
    body = client.get("/healthz", headers={"X-API-Key": ""}).json()
    assert body["ok"] is True
    assert type(body["db"]) is int and body["db"] == 1


# limit above the maximum


def test_every_limit_above_its_maximum_is_capped(client: Client, market_client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    with_limit = {path for path, ops in schema["paths"].items()
                  if any(p["name"] == "limit" for op in ops.values() for p in op.get("parameters", []))}  # fmt: skip
    # /udf/search caps too, but is TradingView's protocol, not the old server's.
    assert with_limit - {"/udf/search"} == set(CAPS)
    candles = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 5000})
    assert candles.status_code == 200 and candles.json()["count"] == 2000
    assert market_client.get("/top-movers", params={"tf": "1d", "limit": 5000}).json()["count"] == 500
    assert market_client.get("/latest", params={"tf": "1d", "limit": 5000}).json()["count"] == 521
    for path, cap in CAPS.items():
        res = client.get(path, params={**REQUIRED.get(path, {}), "limit": 10**9})
        assert res.status_code == 200, (path, res.text)
        assert res.json()["count"] <= cap
    assert client.get("/udf/search", params={"query": "V", "limit": 5000}).status_code == 200


@pytest.mark.parametrize("path", [*CAPS, "/udf/search"])
@pytest.mark.parametrize("bad", ["0", "-3", "ten", "1.5", ""])
def test_a_limit_that_is_no_positive_whole_number_is_still_a_400(client: Client, path: str, bad: str) -> None:
    required = REQUIRED.get(path, {"query": "V"} if path == "/udf/search" else {})
    res = client.get(path, params={**required, "limit": bad})
    assert res.status_code == 400, (path, bad, res.text)
    assert res.json()["error"] == "invalid_limit" and res.json()["detail"]


# /latest


def test_latest_rows_are_the_old_shape_with_the_old_default_and_order(market_client: Client) -> None:
    body = market_client.get("/latest", params={"tf": "1d"}).json()
    assert list(body) == ["ok", "tf", "count", "rows"]
    assert body["count"] == 500 == len(body["rows"])  # the old default
    assert [r["ticker"] for r in body["rows"]] == sorted([*MARKET, "SOLO"])[:500]  # by ticker
    first = body["rows"][0]
    assert list(first) == OLD_LATEST_ROW
    assert first["tf"] == "1d" and first["ts"] == DAY2 and ISO_UTC.match(first["ingested_at"])


# /top-movers


def test_top_movers_in_the_old_shape_biggest_rise_first(market_client: Client) -> None:
    body = market_client.get("/top-movers", params={"tf": "1d"}).json()
    assert list(body) == ["ok", "tf", "count", "rows"]
    assert body["count"] == 100 == len(body["rows"])  # the old default
    assert list(body["rows"][0]) == OLD_MOVER_ROW
    everything = market_client.get("/top-movers", params={"tf": "1d", "limit": 500}).json()["rows"]
    expected = []
    for i, ticker in enumerate(MARKET):
        prev, last = close_pair(i)
        expected.append((ticker, prev, last, (last - prev) / prev if prev else None))
    expected.sort(key=lambda e: (e[3] is None, -(e[3] or 0.0), e[0]))
    assert [r["ticker"] for r in everything] == [e[0] for e in expected[:500]]
    for row, (ticker, prev, last, pct) in zip(everything, expected, strict=False):
        assert (row["ticker"], row["tf"], row["ts_latest"]) == (ticker, "1d", DAY2)
        assert (row["close_prev"], row["close_latest"]) == (prev, last)
        assert row["pct_change"] == pytest.approx(pct)
    assert "SOLO" not in {r["ticker"] for r in everything}  # one bar, no previous close
    assert market_client.get("/top-movers", params={"tf": "1h"}).json()["rows"] == []
    assert market_client.get("/top-movers", params={"tf": "5m"}).json()["error"] == "invalid_tf"
    assert market_client.get("/top-movers").json()["error"] == "invalid_tf"


# /news/*


def walk_old_way(client: Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Pages the way the old web app did: nextCursor's two fields sent back as query parameters."""
    rows: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 4, **params}
    for _ in range(50):
        body = client.get(path, params=query).json()
        assert body["ok"] is True, body
        rows += body["rows"]
        cursor = body["nextCursor"]
        if cursor is None:
            return rows
        assert list(cursor) == ["beforePublishedAt", "beforeUrl"]
        query = {**query, **cursor}
    raise AssertionError("the old client paged forever")


def test_news_pages_with_the_old_cursor_to_the_end(client: Client) -> None:
    latest = walk_old_way(client, "/news/latest")
    urls = [r["url"] for r in latest]
    assert len(urls) == len(set(urls)) == 25
    assert urls == [r["url"] for r in client.get("/news/latest", params={"limit": 200}).json()["rows"]]
    by_ticker = walk_old_way(client, "/news/by-ticker", ticker="VCB")
    assert len(by_ticker) == len({r["url"] for r in by_ticker}) == 13


def test_news_rows_carry_the_old_fields_and_only_fetched_articles(client: Client, api_db: ApiDatabase) -> None:
    rows = client.get("/news/latest", params={"limit": 200}).json()["rows"]
    assert all(set(r) >= OLD_NEWS_ROW for r in rows)
    assert PENDING_ARTICLE not in {r["url"] for r in rows}
    assert PENDING_ARTICLE not in {r["url"] for r in walk_old_way(client, "/news/by-ticker", ticker="VCB")}
    conn = psycopg2.connect(api_db.admin_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT url, text FROM articles WHERE fetch_status = 'fetched'")
        texts = dict(cur.fetchall())
    conn.close()
    for row in rows:
        text = texts[row["url"]]
        assert row["snippet"] == (text[:220] if text else None)
        assert ISO_UTC.match(row["published_at"])
    assert any(r["snippet"] and len(r["snippet"]) == 220 for r in rows)


def test_news_by_ticker_names_its_ticker_at_the_top(client: Client) -> None:
    body = client.get("/news/by-ticker", params={"ticker": "shb"}).json()
    assert body["ticker"] == "SHB" and body["count"] == 1
    assert list(body)[:5] == ["ok", "ticker", "count", "rows", "nextCursor"]


def test_before_published_at_alone_lists_older_articles(client: Client) -> None:
    rows = client.get("/news/latest", params={"limit": 200}).json()["rows"]
    pivot = rows[5]["published_at"]
    older = client.get("/news/latest", params={"limit": 200, "beforePublishedAt": pivot}).json()["rows"]
    assert older == [r for r in rows if r["published_at"] < pivot]
    for bad in [
        "2026-02-13T08:30:00",
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
    ]:
        res = client.get("/news/latest", params={"beforePublishedAt": bad})
        assert res.status_code == 400 and res.json()["error"] == "invalid_beforePublishedAt", (bad, res.text)
    both = client.get("/news/latest", params={"beforePublishedAt": pivot, "cursor": "eyJ9"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_cursor"


@pytest.mark.parametrize(
    "payload",
    [b'[1770971400000000,"https://vietstock.vn/a\\u0000b"]', b'[1770971400000000,"\\u0000"]', b'[1,"\\ud800"]',
     b'[99999999999999999999,"x"]', b'[1,"\xed\xa0\x80"]'],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/news/latest", "/news/by-ticker"])
def test_a_cursor_hiding_what_no_text_holds_is_invalid_cursor(client: Client, path: str, payload: bytes) -> None:
    cursor = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    res = client.get(path, params={"ticker": "VCB", "cursor": cursor})
    assert res.status_code == 400, res.text
    assert res.json()["error"] == "invalid_cursor"


@pytest.mark.parametrize("param", ["beforeUrl", "beforePublishedAt", "ticker", "tf", "query", "symbol"])
def test_a_nul_in_any_query_parameter_is_a_400(client: Client, param: str) -> None:
    res = client.get("/news/latest", params={"beforePublishedAt": "2026-02-13T08:30:00Z", param: "a\x00b"})
    assert res.status_code == 400 and res.json()["ok"] is False


# /corporate-actions/*


def test_corporate_actions_in_the_old_shape_with_the_old_cursor(client: Client) -> None:
    for path, params in [("/corporate-actions/latest", {}), ("/corporate-actions/by-ticker", {"ticker": "vcb"})]:
        first = client.get(path, params=params).json()
        everything = first["rows"]
        assert first["count"] == len(everything) and first["nextCursor"] is None  # under the default 50
        assert all(list(r)[: len(OLD_ACTION_ROW)] == OLD_ACTION_ROW for r in everything)
        assert all(r["ex_date"] is not None and ISO_UTC.match(r["ingested_at"]) for r in everything)
        keys = [(r["ex_date"], r["id"]) for r in everything]
        assert keys == sorted(keys, reverse=True)
        walked: list[dict[str, Any]] = []
        query: dict[str, Any] = {**params, "limit": 3}
        while True:
            body = client.get(path, params=query).json()
            walked += body["rows"]
            if body["nextCursor"] is None:
                break
            assert list(body["nextCursor"]) == ["beforeExDate", "beforeId"]
            query = {**query, **body["nextCursor"]}
        assert walked == everything
    assert client.get("/corporate-actions/by-ticker", params={"ticker": "vcb"}).json()["ticker"] == "VCB"


# The rate limit


def test_limits_are_per_key_from_the_key_file(api_db: ApiDatabase, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# the web app's proxy: the default\n{KEY}\n# a public key\n{OTHER_KEY}  2/minute\n")
    settings = Settings.from_env({"HISTORY_API_PG_URL": api_db.reader_dsn, "HISTORY_API_KEYS_FILE": str(keys)})
    assert settings.api_keys == (KEY, OTHER_KEY)
    params: Params = {"ticker": "VCB", "tf": "1d", "limit": 1}
    with TestClient(create_app(settings)) as c:
        public = [c.get("/candles", params=params, headers={"X-API-Key": OTHER_KEY}) for _ in range(3)]
        assert [r.status_code for r in public] == [200, 200, 429]
        assert public[0].headers["ratelimit-limit"] == "2"
        proxy = [c.get("/candles", params=params, headers={"X-API-Key": KEY}) for _ in range(50)]
        assert {r.status_code for r in proxy} == {200}
        # One proxy key carrying a whole web app's traffic: at least 50,000 requests a minute per worker.
        assert int(proxy[0].headers["ratelimit-limit"]) >= 50_000


def test_a_bad_limit_in_the_key_file_names_its_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n{OTHER_KEY} lots\n")
    with pytest.raises(ValueError, match=r"line 2: 'lots' is not a rate limit"):
        Settings.from_env({"HISTORY_API_PG_URL": "postgresql://r@db/v", "HISTORY_API_KEYS_FILE": str(keys)})


def test_bulk_and_export_limits_are_per_key_from_the_key_file(api_db: ApiDatabase, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    public_line = f"{OTHER_KEY} 100/minute bulk=2/minute export=1/hour"
    keys.write_text(f"{KEY}\n# a public key: its own bulk and export windows\n{public_line}\n")
    settings = Settings.from_env({"HISTORY_API_PG_URL": api_db.reader_dsn, "HISTORY_API_KEYS_FILE": str(keys)})
    bulk: Params = {"tickers": "VCB", "tf": "1d", "limit": 1}
    export: Params = {"tf": "1d", "from": api_db.daily_ts[-5], "to": api_db.daily_ts[-1] + 1, "tickers": "VCB"}
    with TestClient(create_app(settings)) as c:
        public = {"X-API-Key": OTHER_KEY}
        assert [c.get("/candles/bulk", params=bulk, headers=public).status_code for _ in range(3)] == [200, 200, 429]
        refused = c.get("/candles/bulk", params=bulk, headers=public).json()
        assert refused["error"] == "rate_limited" and "2 per 1 minute" in refused["detail"]
        assert "bulk= in the key file" in refused["detail"]
        assert [c.get("/export", params=export, headers=public).status_code for _ in range(2)] == [200, 429]
        assert "export= in the key file" in c.get("/export", params=export, headers=public).json()["detail"]
        # The other key keeps the defaults of HISTORY_API_BULK_RATE_LIMIT and HISTORY_API_EXPORT_RATE_LIMIT.
        proxy = {"X-API-Key": KEY}
        assert {c.get("/candles/bulk", params=bulk, headers=proxy).status_code for _ in range(5)} == {200}
        assert {c.get("/export", params=export, headers=proxy).status_code for _ in range(3)} == {200}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bulk=many", "'many' is not a rate limit"),
        ("bulks=2/minute", "'bulks' is not a limit name"),
        ("1/second 2/second", "expected '<key> [<limit>] [bulk=<limit>] [export=<limit>]'"),
    ],
)
def test_a_bad_route_limit_in_the_key_file_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n{OTHER_KEY} {line}\n")
    with pytest.raises(ValueError, match="line 2: " + re.escape(message)):
        Settings.from_env({"HISTORY_API_PG_URL": "postgresql://r@db/v", "HISTORY_API_KEYS_FILE": str(keys)})


# OpenAPI


def test_openapi_documents_414_and_the_envelope_on_chart_token(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path in ["/candles", "/news/latest", "/news/by-ticker"]:
        assert "414" in schema["paths"][path]["get"]["responses"], path
    bad = schema["paths"]["/chart-token"]["post"]["responses"]["400"]
    assert bad["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    res = client.post("/chart-token", params={"tf": "5m"})
    assert res.status_code == 400 and res.json()["error"] == "invalid_tf"
    long = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "pad": "x" * 4096})
    assert long.status_code == 414 and long.json()["error"] == "uri_too_long"


# Volumes


def test_volumes_are_whole_numbers_everywhere(client: Client, market_client: Client) -> None:
    latest = market_client.get("/latest", params={"tf": "1d", "limit": 3})
    assert '"v":404800,' in latest.text and "404800.0" not in latest.text
    candles = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 50}).json()
    udf = client.get(
        "/udf/history",
        params={"symbol": "VCB", "resolution": "D", "from": candles["rows"][-1]["ts"] // 1000,
                "to": candles["rows"][0]["ts"] // 1000 + 1},
    )  # fmt: skip
    assert udf.json()["v"] == [r["v"] for r in reversed(candles["rows"])]
    assert all(type(v) is int for v in udf.json()["v"])
    assert all(type(r["v"]) is int for r in client.get("/latest", params={"tf": "1d"}).json()["rows"] if r["v"])
