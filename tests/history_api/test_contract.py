"""The old Node server's contract: shapes, status codes and error strings, on a real migrated database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.history_api.conftest import LAST_DAY, ApiDatabase, Client
from vietmarket_core.market import daily_bar_ts


def test_candles_newest_first_in_the_old_shape(client: Client, api_db: ApiDatabase) -> None:
    res = client.get("/candles", params={"ticker": "vcb", "tf": "1d"})
    assert res.status_code == 200
    body = res.json()
    assert list(body) == ["ok", "ticker", "tf", "count", "rows", "nextBeforeTs"]
    assert body["ok"] is True and body["ticker"] == "VCB" and body["tf"] == "1d"
    assert body["count"] == 500 == len(body["rows"])  # the default limit
    assert list(body["rows"][0]) == ["ts", "o", "h", "l", "c", "v", "source"]
    assert [r["ts"] for r in body["rows"]] == sorted(api_db.daily_ts, reverse=True)[:500]
    assert body["rows"][0]["ts"] == daily_bar_ts(LAST_DAY)
    assert body["nextBeforeTs"] == body["rows"][-1]["ts"]


def test_before_ts_is_exclusive_and_limit_is_honoured(client: Client, api_db: ApiDatabase) -> None:
    pivot = sorted(api_db.daily_ts)[1000]
    body = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "beforeTs": pivot, "limit": 7}).json()
    assert [r["ts"] for r in body["rows"]] == sorted(api_db.daily_ts)[993:1000][::-1]
    assert all(r["ts"] < pivot for r in body["rows"])
    assert body["count"] == 7


def test_limit_2000_is_the_maximum(client: Client) -> None:
    assert client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 2000}).json()["count"] == 2000
    # The old contract caps a larger limit rather than refusing it.
    assert client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 2001}).json()["count"] == 2000


def test_unknown_ticker_is_an_empty_page_not_an_error(client: Client) -> None:
    body = client.get("/candles", params={"ticker": "NOPE", "tf": "1d"}).json()
    assert body == {"ok": True, "ticker": "NOPE", "tf": "1d", "count": 0, "rows": [], "nextBeforeTs": None}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"tf": "1d"}, "invalid_ticker"),
        ({"ticker": "VCB"}, "invalid_tf"),
        ({"ticker": "VCB'; DROP TABLE candles_1d; --", "tf": "1d"}, "invalid_ticker"),
        ({"ticker": "VC B", "tf": "1d"}, "invalid_ticker"),
        ({"ticker": "ABCDEFGHIJKLM", "tf": "1d"}, "invalid_ticker"),
        ({"ticker": "VCB", "tf": "5m"}, "invalid_tf"),
        ({"ticker": "VCB", "tf": "1d' OR '1'='1"}, "invalid_tf"),
        ({"ticker": "VCB", "tf": "1d", "beforeTs": "abc"}, "invalid_beforeTs"),
        ({"ticker": "VCB", "tf": "1d", "beforeTs": "-1"}, "invalid_beforeTs"),
        ({"ticker": "VCB", "tf": "1d", "beforeTs": "1.5"}, "invalid_beforeTs"),
        ({"ticker": "VCB", "tf": "1d", "beforeTs": "99999999999999999999999"}, "invalid_beforeTs"),
        ({"ticker": "VCB", "tf": "1d", "limit": "0"}, "invalid_limit"),
        ({"ticker": "VCB", "tf": "1d", "limit": "ten"}, "invalid_limit"),
    ],
)
def test_bad_parameters_are_400_with_the_parameter_named(client: Client, params: dict[str, str], error: str) -> None:
    res = client.get("/candles", params=params)
    assert res.status_code == 400, res.text
    body = res.json()
    assert body["ok"] is False and body["error"] == error
    assert body["detail"]


def test_the_database_was_not_touched_by_the_injection_attempt(client: Client, api_db: ApiDatabase) -> None:
    client.get("/candles", params={"ticker": "VCB'; DROP TABLE candles_1d; --", "tf": "1d"})
    assert client.get("/candles", params={"ticker": "VCB", "tf": "1d", "limit": 1}).json()["count"] == 1


def test_healthz_needs_no_key(client: Client, api_db: ApiDatabase) -> None:
    res = client.get("/healthz", headers={"X-API-Key": ""})
    assert res.status_code == 200
    assert res.json() == {"ok": True, "db": 1, "latestDailyTs": daily_bar_ts(LAST_DAY)}


def test_latest_reads_candles_latest(client: Client) -> None:
    body = client.get("/latest", params={"tf": "1d", "limit": 10}).json()
    assert body["ok"] is True and body["tf"] == "1d"
    assert {r["ticker"] for r in body["rows"]} == {"VCB", "SHB", "VNINDEX"}
    assert all(r["ts"] == daily_bar_ts(LAST_DAY) for r in body["rows"])
    assert client.get("/latest", params={"tf": "1h"}).json()["rows"][0]["ticker"] == "VCB"
    assert client.get("/latest", params={"tf": "x"}).json()["error"] == "invalid_tf"


def test_symbols_filter_by_exchange_and_active(client: Client) -> None:
    everything = client.get("/symbols").json()
    assert everything["count"] == 6
    hose = client.get("/symbols", params={"exchange": "HOSE"}).json()
    assert [s["ticker"] for s in hose["rows"]] == ["VCB", "VCG"]
    inactive = client.get("/symbols", params={"active": "false"}).json()
    assert [s["ticker"] for s in inactive["rows"]] == ["OLDCO"]
    assert client.get("/symbols", params={"exchange": "NYSE"}).json()["error"] == "invalid_exchange"


def test_news_latest_keyset_pages_without_overlap(client: Client) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        body = client.get("/news/latest", params=params).json()
        seen += [a["url"] for a in body["rows"]]
        cursor = body["nextToken"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25  # the undated article is not listed
    first, second = client.get("/news/latest", params={"limit": 2}).json()["rows"]
    # Two articles share the newest time: url desc breaks the tie.
    assert first["published_at"] == second["published_at"] == "2026-02-13T08:30:00Z"
    assert first["url"].endswith("a-001.htm") and second["url"].endswith("a-000.htm")
    assert second["tickers"] == ["VCB", "SHB"]  # most confident first
    assert client.get("/news/latest", params={"cursor": "garbage!"}).json()["error"] == "invalid_cursor"


def test_news_by_ticker(client: Client) -> None:
    body = client.get("/news/by-ticker", params={"ticker": "shb"}).json()
    assert [a["tickers"] for a in body["rows"]] == [["VCB", "SHB"]]
    vcb = client.get("/news/by-ticker", params={"ticker": "VCB", "limit": 5}).json()
    assert vcb["count"] == 5 and vcb["nextToken"]
    rest = client.get("/news/by-ticker", params={"ticker": "VCB", "limit": 50, "cursor": vcb["nextToken"]}).json()
    assert vcb["count"] + rest["count"] == 13 and rest["nextCursor"] is None


def test_unknown_route_is_a_404_envelope(client: Client) -> None:
    res = client.get("/nope")
    assert res.status_code == 404
    assert res.json()["error"] == "not_found"


def test_openapi_documents_every_endpoint_and_its_errors(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    for path in ["/candles", "/latest", "/symbols", "/news/latest", "/news/by-ticker", "/healthz"]:
        assert path in paths
    for path in ["/udf/config", "/udf/symbols", "/udf/search", "/udf/history", "/udf/time"]:
        assert path in paths
    candles = paths["/candles"]["get"]
    assert {"200", "400", "401", "429", "503"} <= set(candles["responses"])
    params = {p["name"]: p for p in candles["parameters"]}
    assert "capped to 2000" in params["limit"]["description"] and params["limit"]["schema"]["minimum"] == 1
    assert set(params["tf"]["schema"]["enum"]) == {"1d", "1h", "15m"}
    assert "beforeTs" in params
    assert schema["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"


def _valid_value(schema: dict[str, Any]) -> str:
    """A value a required parameter accepts, so that only the parameter under test is wrong."""
    if "enum" in schema:
        return str(next(v for v in schema["enum"] if v is not None))
    if "integer" in json.dumps(schema):
        return str(int(schema.get("minimum", 1)))
    return "VCB"


def test_every_query_parameter_fails_as_invalid_its_wire_name(client: Client) -> None:
    # The error code comes from the route's own declaration of the name (QueryParameter(name=...)),
    # so a parameter whose wire name differs from its Python name must still answer invalid_<wire name>.
    schema = client.get("/schema/openapi.json").json()
    tried: set[str] = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            for param in params:
                query = {p["name"]: _valid_value(p["schema"]) for p in params if p.get("required") and p is not param}
                # A control character: no enum, number, boolean, ticker, cursor or search text accepts it.
                query[param["name"]] = "\x01!"
                res = client.request(method.upper(), path, params=query)
                assert res.status_code == 400, (method, path, param["name"], res.status_code)
                assert res.json()["error"] == f"invalid_{param['name']}", (method, path, res.json())
                tried.add(param["name"])
    assert {"beforeTs", "from", "query", "ticker", "tf", "limit", "cursor"} <= tried
