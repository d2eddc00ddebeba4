"""/candles/bulk and /export against the seeded database: every bar once, in every format, within the limits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import psycopg2
import pyarrow.parquet as pq
import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from history_api.params import MAX_TS_MS
from tests.history_api.conftest import KEY, OTHER_KEY, ApiDatabase, Client, Params, api_settings

COLUMNS = ["ticker", "ts", "o", "h", "l", "c", "v", "source"]


def db_rows(api_db: ApiDatabase, sql: str, *args: object) -> list[dict[str, Any]]:
    conn = psycopg2.connect(api_db.admin_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()


def stored_1d(api_db: ApiDatabase, tickers: list[str], lo: int = 0, hi: int = MAX_TS_MS) -> list[dict[str, Any]]:
    return db_rows(
        api_db,
        "SELECT ticker, ts, o, h, l, c, v::bigint, source FROM candles_1d "
        "WHERE ticker = ANY(%s) AND ts >= %s AND ts < %s ORDER BY ticker, ts",
        tickers, lo, hi,
    )  # fmt: skip


@pytest.fixture
def limited(api_db: ApiDatabase) -> Iterator[Client]:
    settings = api_settings(api_db.reader_dsn, bulk_max_tickers=2, export_max_bars=1000, export_rate_limit="2/minute")
    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = KEY
        yield c


def test_bulk_pages_every_bar_once_by_ticker_then_ts(client: Client, api_db: ApiDatabase) -> None:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"tickers": "vcb,SHB,VNINDEX,NOPE", "tf": "1d", "limit": 700}
    pages = 0
    while True:
        res = client.get("/candles/bulk", params=params)
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["count"] == len(body["rows"]) <= 700
        rows += body["rows"]
        pages += 1
        if body["nextCursor"] is None:
            break
        params["cursor"] = body["nextCursor"]
    expected = stored_1d(api_db, ["VCB", "SHB", "VNINDEX"])
    assert rows == expected
    assert pages == -(-len(expected) // 700)
    # Volumes are whole numbers on the wire, as in /candles.
    assert b'"v":1000,' in client.get("/candles/bulk", params={"tickers": "VCB", "tf": "1d", "limit": 1}).content


def test_bulk_honours_the_range_and_caps_the_limit(client: Client, api_db: ApiDatabase) -> None:
    lo, hi = api_db.daily_ts[100], api_db.daily_ts[200]
    res = client.get("/candles/bulk", params={"tickers": "VCB", "tf": "1d", "from": lo, "to": hi, "limit": 10**9})
    assert res.status_code == 200, res.text
    assert res.json()["rows"] == stored_1d(api_db, ["VCB"], lo, hi)
    assert res.json()["nextCursor"] is None


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"tickers": "VCB,", "tf": "1d"}, "invalid_tickers"),
        ({"tickers": "VCB", "tf": "1d", "cursor": "VCB:"}, "invalid_cursor"),
        ({"tickers": "VCB", "tf": "1d", "cursor": "vcb:12"}, "invalid_cursor"),
        ({"tickers": "VCB", "tf": "1d", "limit": "0"}, "invalid_limit"),
        ({"tickers": "VCB", "tf": "1w"}, "invalid_tf"),
    ],
)
def test_bulk_bad_parameters_are_named(client: Client, params: dict[str, str], error: str) -> None:
    res = client.get("/candles/bulk", params=params)
    assert res.status_code == 400
    assert res.json()["error"] == error


def test_bulk_ticker_cap_names_its_limit(limited: Client) -> None:
    assert limited.get("/candles/bulk", params={"tickers": "VCB,SHB", "tf": "1d"}).status_code == 200
    res = limited.get("/candles/bulk", params={"tickers": "VCB,SHB,BCM", "tf": "1d"})
    assert res.status_code == 400
    assert res.json()["error"] == "invalid_tickers"
    assert "at most 2" in res.json()["detail"] and "HISTORY_API_BULK_MAX_TICKERS" in res.json()["detail"]


def parse_export(fmt: str, content: bytes) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in content.decode().splitlines()]
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content.decode()))
        assert reader.fieldnames == COLUMNS
        out = []
        for r in reader:
            typed: dict[str, Any] = {"ticker": r["ticker"], "ts": int(r["ts"]), "source": r["source"] or None}
            typed |= {k: float(r[k]) for k in "ohlc"}
            typed["v"] = int(r["v"]) if r["v"] else None
            out.append(typed)
        return out
    return list(pq.read_table(io.BytesIO(content)).to_pylist())


@pytest.mark.parametrize(
    ("query", "accept", "fmt", "media_type"),
    [
        ({}, None, "jsonl", "application/x-ndjson"),
        ({}, "text/csv", "csv", "text/csv; charset=utf-8"),
        ({}, "application/vnd.apache.parquet", "parquet", "application/vnd.apache.parquet"),
        ({"format": "parquet"}, "text/csv", "parquet", "application/vnd.apache.parquet"),
        ({"format": "csv"}, None, "csv", "text/csv; charset=utf-8"),
    ],
)
def test_export_streams_the_market_in_the_asked_format(  # noqa: PLR0913
    client: Client, api_db: ApiDatabase, query: dict[str, str], accept: str | None, fmt: str, media_type: str
) -> None:
    lo, hi = api_db.daily_ts[-300], api_db.daily_ts[-1] + 1
    headers = {"Accept": accept} if accept else {}
    res = client.get("/export", params={"tf": "1d", "from": lo, "to": hi, **query}, headers=headers)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == media_type
    assert f".{fmt}" in res.headers["content-disposition"]
    expected = stored_1d(api_db, ["VCB", "SHB", "VNINDEX", "BCM", "VCG", "OLDCO"], lo, hi)
    assert {r["ticker"] for r in expected} == {"VCB", "SHB", "VNINDEX"}
    assert parse_export(fmt, res.content) == expected


def test_export_filters_by_exchange_and_tickers(client: Client, api_db: ApiDatabase) -> None:
    base: Params = {"tf": "1d", "from": 0, "to": MAX_TS_MS}
    hnx = client.get("/export", params={**base, "exchange": "HNX"})
    assert parse_export("jsonl", hnx.content) == stored_1d(api_db, ["SHB"])
    some = client.get("/export", params={**base, "tickers": "VNINDEX,shb", "format": "csv"})
    assert parse_export("csv", some.content) == stored_1d(api_db, ["SHB", "VNINDEX"])
    empty = client.get("/export", params={**base, "tickers": "NOPE", "format": "parquet"})
    assert empty.status_code == 200 and parse_export("parquet", empty.content) == []


def test_export_raw_basis_matches_candles_raw(client: Client, api_db: ApiDatabase) -> None:
    lo = api_db.daily_ts[-40]
    res = client.get("/export", params={"tf": "1d", "from": lo, "to": MAX_TS_MS, "tickers": "VCB", "adjustment": "raw"})
    exported = parse_export("jsonl", res.content)
    page = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 40, "adjustment": "raw"}).json()
    assert [{k: r[k] for k in ("ts", "o", "h", "l", "c")} for r in exported] == [
        {k: r[k] for k in ("ts", "o", "h", "l", "c")} for r in reversed(page["rows"])
    ]
    assert {r["source"] for r in exported} == {"finfo"}


def test_export_over_the_cost_cap_is_413_naming_it(limited: Client, api_db: ApiDatabase) -> None:
    res = limited.get("/export", params={"tf": "1d", "from": 0, "to": MAX_TS_MS})
    assert res.status_code == 413
    body = res.json()
    assert body["error"] == "export_too_large"
    assert "cap of 1000" in body["detail"] and "HISTORY_API_EXPORT_MAX_BARS" in body["detail"]
    # One ticker over 250 weekdays fits under the cap.
    small: Params = {"tf": "1d", "from": api_db.daily_ts[-250], "to": api_db.daily_ts[-1] + 1, "tickers": "VCB"}
    assert limited.get("/export", params=small).status_code == 200


def test_export_rate_limit_is_per_key_and_names_itself(limited: Client, api_db: ApiDatabase) -> None:
    params: Params = {"tf": "1d", "from": api_db.daily_ts[-10], "to": MAX_TS_MS, "tickers": "SHB"}
    assert [limited.get("/export", params=params).status_code for _ in range(2)] == [200, 200]
    res = limited.get("/export", params=params)
    assert res.status_code == 429
    assert res.json()["error"] == "rate_limited" and "HISTORY_API_EXPORT_RATE_LIMIT" in res.json()["detail"]
    assert int(res.headers["retry-after"]) >= 1
    assert limited.get("/export", params=params, headers={"X-API-Key": OTHER_KEY}).status_code == 200
    # Bulk reads count on their own limit.
    assert limited.get("/candles/bulk", params={"tickers": "SHB", "tf": "1d"}).status_code == 200


def test_intraday_export_and_bulk_agree_on_both_bases(client: Client, api_db: ApiDatabase) -> None:
    for adjustment in ("adjusted", "raw"):
        query: Params = {"tf": "1h", "from": 0, "to": MAX_TS_MS, "adjustment": adjustment}
        exported = parse_export("parquet", client.get("/export", params={**query, "format": "parquet"}).content)
        paged = client.get("/candles/bulk", params={**query, "tickers": "VCB", "limit": 10_000}).json()
        assert len(exported) == len(api_db.hourly_ts)
        assert exported == paged["rows"]
    # VCB went ex on 2025-04-28 before these sessions only: its raw hourly bars equal the stored ones.
    raw = client.get("/export", params={"tf": "1h", "from": 0, "to": MAX_TS_MS, "adjustment": "raw"})
    adjusted = client.get("/export", params={"tf": "1h", "from": 0, "to": MAX_TS_MS})
    assert raw.content == adjusted.content
