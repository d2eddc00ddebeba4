"""A seeded database for the History API and the app on top of it, in-process or as a real server."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from history_api.app import create_app
from history_api.settings import Settings
from tests.clusters import free_port
from tests.conftest import require_env
from vietmarket_core.market import VN_TZ, daily_bar_ts
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

Client = TestClient[Litestar]
# A request's query string, as the tests build it.
Params = dict[str, str | int]

KEY = "test-key-" + "a" * 24
OTHER_KEY = "test-key-" + "b" * 24
LEGACY_KEY = "legacy-key-" + "c" * 24

# The seeded market: VCB's daily history on every weekday from 2014 to the simulated "today",
# closed on Tet 2026 (a whole week) and on National Day 2025 (Monday 1 and Tuesday 2 September).
FIRST_DAY = date(2014, 1, 2)
LAST_DAY = date(2026, 2, 13)
HOLIDAYS = {date(2026, 2, 16) + timedelta(days=i) for i in range(5)} | {date(2025, 9, 1), date(2025, 9, 2)}
HOURLY_OPENS = [(9, 0), (10, 0), (11, 0), (13, 0), (14, 0)]
RAW_DAYS = 60  # VCB's newest sessions also have finfo's daily_prices row

# Corporate actions: VCB's stock dividends and bonus shares as finfo's adjustment factor shows them
# (the simulator's calendar for VCB), announcements of cash dividends, SHB's, and one announcement
# whose ex-date is not known yet.  (ticker, ex_date, event_type, source, factor, headline)
ADJUSTING_ACTIONS = [
    ("VCB", date(2014, 5, 5), "stock_dividend", 1 / 1.2),
    ("VCB", date(2015, 9, 14), "bonus", 1 / 1.25),
    ("VCB", date(2016, 12, 12), "stock_dividend", 1 / 1.2),
    ("VCB", date(2019, 5, 6), "stock_dividend", 1 / 1.05),
    ("VCB", date(2023, 4, 4), "stock_dividend", 1 / 1.15),
    ("VCB", date(2023, 12, 18), "stock_dividend", 1 / 1.2),
    ("VCB", date(2025, 4, 28), "bonus", 1 / 1.2),
    ("SHB", date(2022, 6, 20), "stock_dividend", 1 / 1.15),
    ("SHB", date(2025, 4, 28), "stock_dividend", 1 / 1.1),
]
ANNOUNCED_ACTIONS = [
    ("VCB", date(2019, 6, 21), "cash_dividend", "VCB: cổ tức bằng tiền 8%"),
    ("VCB", date(2020, 12, 30), "cash_dividend", "VCB: cổ tức bằng tiền 8%"),
    ("VCB", date(2025, 9, 18), "cash_dividend", "VCB: cổ tức bằng tiền 4,5%"),
    ("VCB", date(2025, 4, 28), "bonus", "VCB: thưởng cổ phiếu tỷ lệ 5:1"),
    ("SHB", date(2025, 4, 28), "stock_dividend", "SHB: cổ tức bằng cổ phiếu 10%"),
    ("BCM", date(2024, 7, 1), "cash_dividend", "BCM: cổ tức bằng tiền 10%"),
    ("VCB", None, "cash_dividend", "VCB: kế hoạch cổ tức 2026"),
]


PENDING_ARTICLE = "https://vietstock.vn/2026/02/pending.htm"


def article_text(i: int) -> str | None:
    """Every third fetched article has no text (a page with only a title); the rest are 300+ characters."""
    return None if i % 3 == 2 else f"Bài {i}: " + "Vietcombank tăng trưởng tín dụng. " * 10


def trading_days(first: date = FIRST_DAY, last: date = LAST_DAY) -> list[date]:
    days, d = [], first
    while d <= last:
        if d.weekday() < 5 and d not in HOLIDAYS:
            days.append(d)
        d += timedelta(days=1)
    return days


# (ticker, tf, ts, o, h, l, c, v, source), as candles_1d stores it
Bar = tuple[str, str, int, float, float, float, float, float, str]


def daily_bar(i: int, d: date) -> Bar:
    o = 50.0 + (i % 97) / 10
    return ("VCB", "1d", daily_bar_ts(d), o, o + 1.0, o - 1.0, o + 0.5, 1000.0 + i, "vci")


def hourly_ts(d: date, hour: int, minute: int) -> int:
    return int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=VN_TZ).timestamp()) * 1000


@dataclass(frozen=True)
class ApiDatabase:
    name: str
    admin_dsn: str = field(repr=False)
    reader_dsn: str = field(repr=False)
    daily_ts: tuple[int, ...]
    hourly_ts: tuple[int, ...]


def seed(dsn: str) -> tuple[list[int], list[int]]:
    days = trading_days()
    daily = [daily_bar(i, d) for i, d in enumerate(days)]
    hourly: list[Bar] = []
    for i, d in enumerate(days[-40:]):
        for j, (hh, mm) in enumerate(HOURLY_OPENS):
            o = 60.0 + ((i * 5 + j) % 13) / 10
            hourly.append(("VCB", "1h", hourly_ts(d, hh, mm), o, o + 0.3, o - 0.3, o + 0.1, 100.0 + j, "vci"))
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO symbols (ticker, name, exchange, active, kind) VALUES "
            "('VCB', 'Ngân hàng TMCP Ngoại thương Việt Nam', 'HOSE', true, 'stock'), "
            "('VCG', 'Vinaconex', 'HOSE', true, 'stock'), "
            "('SHB', 'Ngân hàng TMCP Sài Gòn - Hà Nội', 'HNX', true, 'stock'), "
            "('BCM', 'Becamex IDC', 'UPCOM', true, 'stock'), "
            "('OLDCO', 'Delisted Co', 'UPCOM', false, 'stock'), "
            "('VNINDEX', 'VN-Index', NULL, true, 'index')"
        )
        psycopg2.extras.execute_values(
            cur, "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES %s", daily, page_size=5000
        )
        psycopg2.extras.execute_values(
            cur, "INSERT INTO candles_1h (ticker, tf, ts, o, h, l, c, v, source) VALUES %s", hourly, page_size=5000
        )
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES "
            "('SHB', '1d', %s, 10, 11, 9, 10.5, 500, 'vci'), "
            "('VNINDEX', '1d', %s, 1250, 1260, 1240, 1255, NULL, 'vci')",
            (daily_bar_ts(LAST_DAY), daily_bar_ts(LAST_DAY)),
        )
        articles = [
            (
                f"https://vietstock.vn/2026/02/a-{i:03d}.htm",
                f"Tin số {i} về VCB",
                datetime(2026, 2, 13, 8, 30, tzinfo=UTC) - timedelta(hours=i // 2),
            )
            for i in range(25)
        ]
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO articles (url, title, published_at, fetch_status, text) VALUES %s",
            [(u, t, p, "fetched", article_text(i)) for i, (u, t, p) in enumerate(articles)],
        )
        cur.execute("INSERT INTO articles (url, title) VALUES ('https://vietstock.vn/undated.htm', 'no date yet')")
        # Dated and linked, but its text is not fetched yet: the old server never listed such an article.
        cur.execute(
            "INSERT INTO articles (url, title, published_at) VALUES (%s, 'chưa tải', %s)",
            (PENDING_ARTICLE, datetime(2026, 2, 13, 9, 0, tzinfo=UTC)),
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO article_symbols (article_url, ticker, confidence, method) VALUES %s",
            [(u, "VCB", 0.9, "title") for u, _, _ in articles[::2]]
            + [(articles[0][0], "SHB", 0.5, "body"), (PENDING_ARTICLE, "VCB", 0.9, "title")],
        )
        seed_corporate_actions(cur)
        # finfo's rows for VCB's newest sessions: no adjusting action went ex since, so raw = adjusted.
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO daily_prices (ticker, ts, exchange, open, high, low, close, ad_open, ad_high, ad_low, "
            "ad_close, nm_volume, nm_value, pt_volume, pt_value, source) VALUES %s",
            [(t, ts, "HOSE", o, h, lo, c, o, h, lo, c, v, v * c * 1000, 0, 0, "finfo")
             for t, _, ts, o, h, lo, c, v, _ in daily[-RAW_DAYS:]],
        )  # fmt: skip
    conn.close()
    return [r[2] for r in daily], [r[2] for r in hourly]


def seed_corporate_actions(cur: psycopg2.extensions.cursor) -> None:
    """The actions above as the prices derivation (source finfo) and an announcements feed write them."""
    rows: list[tuple[object, ...]] = []
    for ticker in ("VCB", "SHB"):
        steps = [a for a in ADJUSTING_ACTIONS if a[0] == ticker]
        running = 1.0
        for _, ex_date, kind, factor in reversed(steps):
            running *= factor
            rows.append(
                (ticker, "HOSE" if ticker == "VCB" else "HNX", ex_date, None, kind, "finfo", None, factor, running)
            )
    for ticker, announced_ex_date, kind, headline in ANNOUNCED_ACTIONS:
        url = f"https://vietstock.vn/su-kien/{ticker.lower()}-{announced_ex_date or 'tba'}.htm"
        rows.append((ticker, None, announced_ex_date, headline, kind, "vietstock", url, None, None))
    psycopg2.extras.execute_values(
        cur,
        "INSERT INTO corporate_actions (ticker, exchange, ex_date, headline, event_type, source, source_url, "
        "factor, cumulative_factor) VALUES %s",
        rows,
    )


@pytest.fixture(scope="session")
def api_db(admin_url: str) -> Iterator[ApiDatabase]:
    name = f"vm_api_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(admin_url, name)
    try:
        admin_dsn = with_database(admin_url, name)
        migrate(admin_dsn)
        daily, hourly = seed(admin_dsn)
        yield ApiDatabase(
            name=name,
            admin_dsn=admin_dsn,
            reader_dsn=with_database(require_env("HISTORY_API_PG_URL"), name),
            daily_ts=tuple(daily),
            hourly_ts=tuple(hourly),
        )
    finally:
        drop_database(admin_url, name)


def api_settings(dsn: str, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "pg_url": dsn,
        "api_keys": (KEY, OTHER_KEY, LEGACY_KEY),
        "rate_limit": "100000/minute",
        "connect_timeout_s": 2.0,
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def client(api_db: ApiDatabase) -> Iterator[Client]:
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        c.headers["X-API-Key"] = KEY
        yield c


@dataclass
class LiveApi:
    url: str
    process: subprocess.Popen[bytes]
    log_path: str


def start_live_api(pg_url: str, log_dir: str, **env: str) -> LiveApi:
    """The service as production runs it: `python -m history_api` under uvicorn."""
    port = free_port()
    log_path = os.path.join(log_dir, f"history-api-{port}.log")
    full_env = {
        **os.environ,
        "HISTORY_API_PG_URL": pg_url,
        "HISTORY_API_KEYS": f"{KEY},{OTHER_KEY}",
        "PORT": str(port),
        "HISTORY_API_RATE_LIMIT": "1000000/minute",
        **env,
    }
    log_file = open(log_path, "wb")  # noqa: SIM115  # the server writes to it for its whole life
    process = subprocess.Popen(
        [sys.executable, "-m", "history_api"], env=full_env, stdout=log_file, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"history-api exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                return LiveApi(url, process, log_path)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"history-api did not answer within 30 s; see {log_path}")


def stop_live_api(api: LiveApi) -> None:
    api.process.terminate()
    try:
        api.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        api.process.kill()


@pytest.fixture(scope="module")
def live_api(api_db: ApiDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    api = start_live_api(api_db.reader_dsn, str(tmp_path_factory.mktemp("api")))
    yield api
    stop_live_api(api)
