"""/corporate-actions/* in the old server's shape and paging, and the ex-dates as UDF timescale marks."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.history_api.conftest import ADJUSTING_ACTIONS, ANNOUNCED_ACTIONS, LEGACY_KEY, Client, Params
from vietmarket_core.market import daily_bar_ts

# The old server's row, in its order, then the factors.
OLD_COLUMNS = [
    "id", "ticker", "exchange", "ex_date", "record_date", "pay_date", "headline", "event_type", "source",
    "source_url", "ingested_at",
]  # fmt: skip
COLUMNS = [*OLD_COLUMNS, "factor", "cumulative_factor"]


def dated(ticker: str | None = None) -> list[tuple[str, date]]:
    """(source, ex_date) of every seeded action with a known ex-date, of one ticker or all."""
    out = [("finfo", d) for t, d, _, _ in ADJUSTING_ACTIONS if ticker in (None, t)]
    out += [("vietstock", d) for t, d, _, _ in ANNOUNCED_ACTIONS if d is not None and ticker in (None, t)]
    return out


def walk(client: Client, path: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page, sending nextCursor's two fields back as query parameters, as the old clients do."""
    pages, query = [], {"limit": limit, **params}
    while True:
        res = client.get(path, params=query)
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["ok"] is True and body["count"] == len(body["rows"])
        pages.append(body["rows"])
        if body["nextCursor"] is None:
            return pages
        assert set(body["nextCursor"]) == {"beforeExDate", "beforeId"}
        assert body["nextCursor"] == {"beforeExDate": body["rows"][-1]["ex_date"], "beforeId": body["rows"][-1]["id"]}
        query = {**query, **body["nextCursor"]}


def test_by_ticker_is_the_old_shape(client: Client) -> None:
    res = client.get("/corporate-actions/by-ticker", params={"ticker": "vcb"})
    assert res.status_code == 200
    body = res.json()
    assert list(body) == ["ok", "ticker", "count", "rows", "nextCursor"]
    assert body["ticker"] == "VCB" and body["nextCursor"] is None
    assert body["count"] == len(dated("VCB"))
    for row in body["rows"]:
        assert list(row) == COLUMNS
        assert row["ticker"] == "VCB"
        assert isinstance(row["id"], int)
        date.fromisoformat(row["ex_date"])
        assert row["ingested_at"].endswith("Z")
    finfo = {r["ex_date"]: r for r in body["rows"] if r["source"] == "finfo"}
    assert finfo["2025-04-28"]["factor"] == pytest.approx(1 / 1.2) == finfo["2025-04-28"]["cumulative_factor"]
    # The earliest step's cumulative factor is the product of every VCB factor.
    assert finfo["2014-05-05"]["cumulative_factor"] == pytest.approx(1 / (1.2 * 1.25 * 1.2 * 1.05 * 1.15 * 1.2 * 1.2))
    announced = [r for r in body["rows"] if r["source"] == "vietstock"]
    assert all(r["factor"] is None and r["headline"] and r["source_url"] for r in announced)
    assert all(r["ex_date"] is not None for r in body["rows"]), "an action without ex-date is not listed"


def test_latest_is_the_old_shape_without_a_ticker(client: Client) -> None:
    body = client.get("/corporate-actions/latest").json()
    assert list(body) == ["ok", "count", "rows", "nextCursor"]
    assert body["count"] == len(dated()) and body["nextCursor"] is None
    assert {r["ticker"] for r in body["rows"]} == {"VCB", "SHB", "BCM"}


@pytest.mark.parametrize(
    ("path", "params"), [("/corporate-actions/latest", {}), ("/corporate-actions/by-ticker", {"ticker": "VCB"})]
)
@pytest.mark.parametrize("limit", [1, 3, 4])
def test_keyset_walk_has_no_duplicates_and_no_gaps(
    client: Client, path: str, params: dict[str, str], limit: int
) -> None:
    full = client.get(path, params={**params, "limit": 500}).json()["rows"]
    pages = walk(client, path, limit, **params)
    rows = [r for page in pages for r in page]
    assert all(len(p) == limit for p in pages[:-1]) and 1 <= len(pages[-1]) <= limit
    assert rows == full
    assert len({r["id"] for r in rows}) == len(rows) == len(dated(params.get("ticker")))
    keys = [(r["ex_date"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True), "ordered by (ex_date desc, id desc)"
    # Dates shared by two sources are split across pages without losing one.
    assert {(r["source"], date.fromisoformat(r["ex_date"])) for r in rows} == set(dated(params.get("ticker")))


def test_before_ex_date_alone_lists_that_date_as_the_old_server(client: Client) -> None:
    rows = client.get("/corporate-actions/by-ticker", params={"ticker": "VCB", "beforeExDate": "2025-04-28"}).json()[
        "rows"
    ]
    assert rows[0]["ex_date"] == "2025-04-28" and rows[1]["ex_date"] == "2025-04-28"
    assert {r["ex_date"] for r in rows} <= {d.isoformat() for _, d in dated("VCB") if d <= date(2025, 4, 28)}
    newest = max(r["id"] for r in rows if r["ex_date"] == "2025-04-28")
    strict = client.get(
        "/corporate-actions/by-ticker", params={"ticker": "VCB", "beforeExDate": "2025-04-28", "beforeId": newest}
    ).json()["rows"]
    assert [r["id"] for r in strict] == [r["id"] for r in rows[1:]]


def test_a_limit_above_the_maximum_is_capped(client: Client) -> None:
    res = client.get("/corporate-actions/latest", params={"limit": 5000})
    assert res.status_code == 200 and res.json()["count"] == len(dated())


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"), ("limit", "-3"), ("limit", "ten"), ("limit", "1.5"),
        ("beforeExDate", "2026-13-01"), ("beforeExDate", "yesterday"), ("beforeExDate", "2026-02-30"),
        ("beforeExDate", "2026-02-13'; DROP TABLE corporate_actions; --"),
        ("beforeId", "abc"), ("beforeId", "0"), ("beforeId", "-1"), ("beforeId", "99999999999999999999"),
        ("ticker", "V C B"), ("ticker", ""),
    ],
)  # fmt: skip
def test_bad_parameters_are_400_naming_them(client: Client, param: str, value: str) -> None:
    for path in ("/corporate-actions/latest", "/corporate-actions/by-ticker"):
        if param == "ticker" and path.endswith("latest"):
            continue
        query = {"ticker": "VCB", "beforeExDate": "2026-01-01", param: value}
        res = client.get(path, params=query)
        assert res.status_code == 400, (path, param, value, res.text)
        assert res.json()["ok"] is False and res.json()["error"] == f"invalid_{param}", res.json()
    nul = client.get(
        "/corporate-actions/by-ticker", params={"ticker": "VCB", "beforeExDate": "2026-01-01", param: value + "\x00"}
    )
    assert nul.status_code == 400 and nul.json()["ok"] is False
    assert client.get("/corporate-actions/by-ticker", params={"ticker": "VCB"}).json()["count"] == len(dated("VCB"))


def test_by_ticker_needs_a_ticker_and_both_need_a_key(client: Client) -> None:
    missing = client.get("/corporate-actions/by-ticker")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_ticker"
    for path in ("/corporate-actions/latest", "/corporate-actions/by-ticker?ticker=VCB"):
        res = client.get(path, headers={"X-API-Key": "nope"})
        assert res.status_code == 401 and res.json() == {
            "ok": False,
            "error": "unauthorized",
            "detail": "send a valid X-API-Key header",
        }
        assert client.get(path, headers={"X-API-Key": LEGACY_KEY}).status_code == 200


def s(d: date) -> int:
    return daily_bar_ts(d) // 1000


def test_timescale_marks_put_every_ex_date_on_its_daily_bar(client: Client) -> None:
    config = client.get("/udf/config").json()
    assert config["supports_timescale_marks"] is True
    marks = client.get(
        "/udf/timescale_marks", params={"symbol": "HOSE:VCB", "resolution": "D", "from": 0, "to": 2_000_000_000}
    ).json()
    ex_dates = sorted({d for _, d in dated("VCB")})
    assert [m["time"] for m in marks] == [s(d) for d in ex_dates]
    assert [m["id"] for m in marks] == [d.isoformat() for d in ex_dates]
    for m in marks:
        assert set(m) == {"id", "time", "color", "label", "tooltip"}
        assert m["tooltip"][0] == "Ex-date " + m["id"]
        assert len(m["label"]) == 1 and m["color"]
    by_id = {m["id"]: m for m in marks}
    # Two sources on one date make one mark with a line each; the finfo step decides the label.
    both = by_id["2025-04-28"]
    assert both["label"] == "B" and both["color"] == "green" and len(both["tooltip"]) == 3
    assert "factor 0.8333 (finfo)" in both["tooltip"][1] and "(vietstock)" in both["tooltip"][2]
    assert by_id["2025-09-18"]["label"] == "C" and by_id["2023-04-04"]["label"] == "D"
    # The marks share /udf/history's daily times: each one is a D bar's t.
    history = client.get(
        "/udf/history", params={"symbol": "VCB", "resolution": "D", "from": 0, "to": 2_000_000_000, "countback": 5000}
    ).json()
    assert {m["time"] for m in marks if m["time"] >= history["t"][0]} <= set(history["t"])


def test_timescale_marks_range_and_resolution(client: Client) -> None:
    window: Params = {"symbol": "VCB", "resolution": "D", "from": s(date(2023, 4, 4)), "to": s(date(2023, 12, 18))}
    inside = client.get("/udf/timescale_marks", params=window).json()
    assert [m["id"] for m in inside] == ["2023-04-04"], "from is inclusive, to exclusive"
    hourly = client.get("/udf/timescale_marks", params={**window, "resolution": "60"}).json()
    # An intraday chart gets the mark at the ex-date's 09:00 ICT open, 02:00 UTC.
    assert [m["time"] for m in hourly] == [s(date(2023, 4, 4)) + 7200]
    assert client.get("/udf/timescale_marks", params={**window, "symbol": "NOPE"}).json() == []
    bad = client.get("/udf/timescale_marks", params={**window, "resolution": "2D"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_resolution"


def test_openapi_documents_the_new_routes_with_the_error_envelope(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    for path in ("/corporate-actions/latest", "/corporate-actions/by-ticker", "/udf/timescale_marks"):
        operation = paths[path]["get"]
        assert {"200", "400", "401", "429", "503", "504"} <= set(operation["responses"]), path
        bad = operation["responses"]["400"]["content"]["application/json"]["schema"]
        assert bad["$ref"].endswith("/ErrorBody"), path
        assert operation.get("description")
    params = {p["name"]: p for p in paths["/corporate-actions/by-ticker"]["get"]["parameters"]}
    assert params["ticker"]["required"] is True
    assert {"type": "string", "format": "date"} in params["beforeExDate"]["schema"]["oneOf"]
    assert {"type": "integer"} in params["beforeId"]["schema"]["oneOf"]
    assert "maximum" not in str(params["limit"]["schema"]), "a larger limit is capped, so the schema allows it"
    marks = {p["name"] for p in paths["/udf/timescale_marks"]["get"]["parameters"]}
    assert marks == {"symbol", "from", "to", "resolution"}
