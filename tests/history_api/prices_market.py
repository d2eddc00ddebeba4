"""A market where adjusted != raw, as of Friday 2026-03-06: its database, for the API's and the client's tests.

VCB traded 64.7/65.1/64.0/64.4 on 2026-02-13 (the original system's fact), then went ex a 20 %
stock dividend on 2026-02-23, the first session after Tet; a 10 % bonus issue went ex on
2026-01-19.  daily_prices holds finfo's rows (traded and adjusted as of the 6th, written through
upsert_daily_prices), the candle tables the adjusted series VCI serves after both ex-dates, and
corporate_actions the two factor steps the prices derivation finds in adClose/close (source
finfo) plus an announcement of the dividend from another source.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg2
import psycopg2.extras
import pytest

from tests.conftest import require_env
from tests.history_api.conftest import HOURLY_OPENS, hourly_ts, trading_days
from vietmarket_core.market import daily_bar_ts, trading_date_of
from vietmarket_pipelines.prices import DailyPrice, adjustment_factors, cumulative_factors
from vietmarket_pipelines.simulator.rules import band, to_grid
from vietmarket_pipelines.timescale.daily_prices import read_daily_prices, upsert_daily_prices
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

FACT_DAY = date(2026, 2, 13)
FACT_BAR = (64.7, 65.1, 64.0, 64.4)  # open, high, low, close, thousands of VND, as traded
FACT_VOLUME = 4_951_400.0
# (ex_date, kind, factor): raw prices before ex_date times factor are on the basis after it.
ACTIONS = [(date(2026, 1, 19), "bonus", 1 / 1.1), (date(2026, 2, 23), "stock_dividend", 1 / 1.2)]
DAYS = trading_days(date(2026, 1, 2), date(2026, 3, 6))
HOURLY_DAYS = [d for d in DAYS if d >= date(2026, 2, 2)]


def grid(price: float) -> float:
    return float(to_grid(np.array([price]), "HOSE")[0])


def cumfactor(d: date) -> float:
    """The ticker's cumulative factor on trading date d, from the actions as seeded."""
    return math.prod(f for ex, _, f in ACTIONS if ex > d)


def raw_close(i: int, d: date) -> float:
    """A walk on HOSE's tick grid that steps down at each ex-date by the action's factor."""
    level = 70.4 * math.prod(f for ex, _, f in ACTIONS if ex <= d)
    return grid(level * (1 + 0.01 * math.sin(i)))


def finfo_rows() -> list[DailyPrice]:
    rows: list[DailyPrice] = []
    prev_close = None
    for i, d in enumerate(DAYS):
        if d == FACT_DAY:
            o, h, lo, c = FACT_BAR
        else:
            c = raw_close(i, d)
            o = grid(c * 0.997)
            h, lo = grid(max(o, c) * 1.006), grid(min(o, c) * 0.993)
        going_ex = [f for ex, _, f in ACTIONS if ex == d]
        reference = grid((prev_close or c) * (going_ex[0] if going_ex else 1.0))
        floor, ceiling = (float(x[0]) for x in band(np.array([reference]), "HOSE"))
        cf = cumfactor(d)
        ad_open, ad_high, ad_low, ad_close = (round(p * cf, 2) for p in (o, h, lo, c))
        average = grid((h + lo) / 2)
        volume = FACT_VOLUME if d == FACT_DAY else 1_000_000.0 + 1000 * i
        rows.append(
            DailyPrice(
                "VCB",
                daily_bar_ts(d),
                "HOSE",
                o,
                h,
                lo,
                c,
                average,
                ad_open,
                ad_high,
                ad_low,
                ad_close,
                round(average * cf, 2),
                reference,
                ceiling,
                floor,
                volume,
                volume * average * 1000,
                25_000.0,
                25_000.0 * average * 1000,
                "finfo",
            )
        )
        prev_close = c
    return rows


def hourly_raw(daily: dict[int, DailyPrice]) -> dict[int, tuple[float, float, float, float]]:
    """The traded hourly bars (o, h, l, c) by ts: on the grid, around the day's traded close."""
    out = {}
    for d in HOURLY_DAYS:
        day = daily[daily_bar_ts(d)]
        for j, (hh, mm) in enumerate(HOURLY_OPENS):
            c = grid(day.close * (1 + 0.002 * (j - 2)))
            o = grid(c * 0.999)
            out[hourly_ts(d, hh, mm)] = (o, grid(max(o, c) * 1.002), grid(min(o, c) * 0.998), c)
    return out


def hourly_bars(raw: dict[int, tuple[float, float, float, float]]) -> list[tuple[object, ...]]:
    """VCI's adjusted hourly bars: the traded ones times the day's factor, rounded to 0.01."""
    out = []
    for j, (ts, bar) in enumerate(sorted(raw.items())):
        cf = cumfactor(trading_date_of(ts, "1h"))
        out.append(("VCB", "1h", ts, *(round(p * cf, 2) for p in bar), 10_000.0 + j % 5, "vci"))
    return out


@dataclass(frozen=True)
class PricesDatabase:
    reader_dsn: str
    prices: tuple[DailyPrice, ...]
    hourly_raw: dict[int, tuple[float, float, float, float]]


def seed(admin_dsn: str, writer_dsn: str) -> PricesDatabase:
    conn = psycopg2.connect(writer_dsn)
    try:
        stats = upsert_daily_prices(conn, finfo_rows())
        assert stats.inserted == len(DAYS)
        stored = read_daily_prices(conn, "VCB")
    finally:
        conn.close()
    steps = adjustment_factors(stored)
    assert [s.ex_date for s in steps] == [ex for ex, _, _ in ACTIONS], steps
    kinds = {ex: kind for ex, kind, _ in ACTIONS}
    actions: list[tuple[object, ...]] = [
        ("VCB", "HOSE", s.ex_date, kinds[s.ex_date], "finfo", s.factor, cum,
         psycopg2.extras.Json({"before_ratio": s.before_ratio, "after_ratio": s.after_ratio}))
        for s, cum in zip(steps, cumulative_factors(steps), strict=True)
    ]  # fmt: skip
    # The dividend's announcement carries its factor too; only finfo's rows may un-adjust bars.
    actions.append(
        ("VCB", "HOSE", date(2026, 2, 23), "stock_dividend", "vietstock", 1 / 1.2, None, None),
    )
    traded_hourly = hourly_raw({p.ts: p for p in stored})
    conn = psycopg2.connect(admin_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO symbols (ticker, name, exchange, active, kind) VALUES ('VCB', 'VCB', 'HOSE', true, 'stock')"
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO corporate_actions (ticker, exchange, ex_date, event_type, source, factor, "
            "cumulative_factor, evidence) VALUES %s",
            actions,
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES %s",
            [("VCB", "1d", p.ts, p.ad_open, p.ad_high, p.ad_low, p.ad_close, p.nm_volume, "vci") for p in stored],
        )
        psycopg2.extras.execute_values(
            cur, "INSERT INTO candles_1h (ticker, tf, ts, o, h, l, c, v, source) VALUES %s", hourly_bars(traded_hourly)
        )
        # Enough announcements of one ticker to show where a page's size is capped.
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO corporate_actions (ticker, ex_date, event_type, source, headline) VALUES %s",
            [("FPT", date(2000, 1, 3) + (date(2000, 1, 10) - date(2000, 1, 3)) * k, "cash_dividend", "vietstock",
              f"FPT: cổ tức đợt {k}") for k in range(520)],
        )  # fmt: skip
    conn.close()
    return PricesDatabase("", tuple(stored), traded_hourly)


@pytest.fixture(scope="module")
def prices_db(admin_url: str) -> Iterator[PricesDatabase]:
    name = f"vm_api_adj_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(admin_url, name)
    try:
        admin_dsn = with_database(admin_url, name)
        migrate(admin_dsn)
        seeded = seed(admin_dsn, with_database(require_env("VIETMARKET_PG_URL"), name))
        yield dataclasses.replace(seeded, reader_dsn=with_database(require_env("HISTORY_API_PG_URL"), name))
    finally:
        drop_database(admin_url, name)
