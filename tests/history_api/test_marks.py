"""/udf/marks: the news linked to a ticker on its chart, at the right bar, coloured by link confidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg2
import pytest

from tests.history_api.conftest import ApiDatabase, Client, Params
from vietmarket_core.market import VN_TZ, daily_bar_ts

# VCG's news, linked only in this module (and removed after it): an evening article whose Vietnam
# date is a day after its UTC date, one per confidence band, one failed fetch, one undated and one
# dated page not yet fetched (marks list fetched articles only, as /news/* does).
EVENING = datetime(2026, 2, 12, 18, 30, tzinfo=UTC)  # 01:30 ICT on 13 February
MORNING = datetime(2026, 2, 12, 2, 15, tzinfo=UTC)  # 09:15 ICT on 12 February
ARTICLES = [
    ("https://vietstock.vn/marks/vcg-evening.htm", "VCG trúng thầu", EVENING, "fetched", 0.95),
    ("https://vietstock.vn/marks/vcg-morning.htm", "VCG họp cổ đông", MORNING, "fetched", 0.6),
    ("https://vietstock.vn/marks/vcg-low.htm", "Ngành xây dựng", datetime(2025, 6, 3, 7, tzinfo=UTC), "fetched", 0.3),
    ("https://vietstock.vn/marks/vcg-failed.htm", "Hỏng", datetime(2025, 6, 4, 7, tzinfo=UTC), "failed", 0.9),
    ("https://vietstock.vn/marks/vcg-undated.htm", "Chưa có ngày", None, "fetched", 0.9),
    ("https://vietstock.vn/marks/vcg-unread.htm", "Chưa đọc", datetime(2025, 6, 5, 7, tzinfo=UTC), "pending", 0.9),
]
ALL: Params = {"symbol": "HOSE:VCG", "resolution": "D", "from": 0, "to": 2_000_000_000}


@pytest.fixture(scope="module", autouse=True)
def vcg_news(api_db: ApiDatabase) -> Iterator[None]:
    conn = psycopg2.connect(api_db.admin_dsn)
    with conn, conn.cursor() as cur:
        for url, title, published, status, confidence in ARTICLES:
            cur.execute(
                "INSERT INTO articles (url, title, published_at, fetch_status) VALUES (%s, %s, %s, %s)",
                (url, title, published, status),
            )
            cur.execute(
                "INSERT INTO article_symbols (article_url, ticker, confidence, method) VALUES (%s, 'VCG', %s, 'title')",
                (url, confidence),
            )
    yield
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM articles WHERE url = ANY(%s)", ([a[0] for a in ARTICLES],))
    conn.close()


def test_config_announces_marks(client: Client) -> None:
    assert client.get("/udf/config").json()["supports_marks"] is True


def test_daily_marks_sit_on_the_vietnam_date_bar_with_title_time_and_url(client: Client) -> None:
    res = client.get("/udf/marks", params=ALL)
    assert res.status_code == 200, res.text
    marks = res.json()
    # Failed, undated and unread articles get no mark; ascending by time.
    assert [m["url"] for m in marks] == [a[0] for a in ARTICLES[2::-1]]
    low, morning, evening = marks
    assert evening["time"] == daily_bar_ts(EVENING.astimezone(VN_TZ).date()) // 1000  # the 13th, not the 12th
    assert morning["time"] == daily_bar_ts(MORNING.astimezone(VN_TZ).date()) // 1000
    assert evening["time"] - morning["time"] == 86_400
    assert (evening["color"], morning["color"], low["color"]) == ("purple", "teal", "silver")
    assert evening["title"] == "VCG trúng thầu" and evening["published_at"] == "2026-02-12T18:30:00Z"
    assert evening["text"] == "VCG trúng thầu\n2026-02-13 01:30 ICT\nhttps://vietstock.vn/marks/vcg-evening.htm"
    assert evening["id"] == evening["url"] and evening["label"] == "N"
    assert evening["confidence"] == pytest.approx(0.95)
    assert set(evening) == {
        "id", "time", "color", "text", "label", "labelFontColor", "minSize", "title", "url", "published_at",
        "confidence",
    }  # fmt: skip


def test_intraday_marks_are_the_publication_instant_and_the_range_is_half_open(client: Client) -> None:
    hourly = client.get("/udf/marks", params={**ALL, "resolution": "60"}).json()
    assert [m["time"] for m in hourly][-2:] == [int(MORNING.timestamp()), int(EVENING.timestamp())]
    window: Params = {**ALL, "resolution": "15", "from": int(MORNING.timestamp()), "to": int(EVENING.timestamp())}
    assert [m["url"] for m in client.get("/udf/marks", params=window).json()] == [ARTICLES[1][0]]


def test_other_tickers_and_bad_input(client: Client) -> None:
    shb = client.get("/udf/marks", params={**ALL, "symbol": "SHB"}).json()
    assert [m["url"] for m in shb] == ["https://vietstock.vn/2026/02/a-000.htm"]
    assert shb[0]["color"] == "teal"
    assert client.get("/udf/marks", params={**ALL, "symbol": "NOPE"}).json() == []
    bad = client.get("/udf/marks", params={**ALL, "resolution": "2D"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_resolution"
    missing = client.get("/udf/marks", params={"symbol": "VCG"})
    assert missing.status_code == 400 and missing.json()["ok"] is False


def test_openapi_documents_marks(client: Client) -> None:
    operation = client.get("/schema/openapi.json").json()["paths"]["/udf/marks"]["get"]
    assert {"200", "400", "401", "429", "503", "504"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"symbol", "from", "to", "resolution"}
