"""upsert_daily_prices against TimescaleDB: one transaction, unchanged rows untouched, a bad row rolls back all."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import psycopg2
import psycopg2.errors
import pytest

from tests.conftest import MigratedDatabase
from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.prices import DailyPrice
from vietmarket_pipelines.timescale.daily_prices import (
    PriceUpsertStats,
    read_daily_prices,
    replace_daily_prices,
    upsert_daily_prices,
)

FIRST = date(2026, 2, 2)


def price(ticker: str, day: date, close: float, ratio: float = 1.0) -> DailyPrice:
    return DailyPrice(
        ticker=ticker, ts=daily_bar_ts(day), exchange="HOSE",
        open=close, high=close + 1, low=close - 1, close=close, average=close,
        ad_open=round(close * ratio, 2), ad_high=round((close + 1) * ratio, 2), ad_low=round((close - 1) * ratio, 2),
        ad_close=round(close * ratio, 2), ad_average=round(close * ratio, 2),
        reference=close, ceiling=round(close * 1.07, 1), floor=round(close * 0.93, 1),
        nm_volume=1_000_000, nm_value=close * 1e9, pt_volume=0, pt_value=0, source="finfo",
    )  # fmt: skip


def days(n: int) -> list[date]:
    return [FIRST + timedelta(days=i) for i in range(n)]


def ingested(db: MigratedDatabase, ticker: str) -> dict[int, object]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts, ingested_at FROM daily_prices WHERE ticker = %s", (ticker,))
        out = dict(cur.fetchall())
    conn.close()
    return out


def test_rows_round_trip_and_an_identical_rewrite_touches_nothing(clean_db: MigratedDatabase) -> None:
    prices = [price("VCB", d, 64.0 + i, ratio=0.9) for i, d in enumerate(days(5))]
    prices.append(dataclasses.replace(price("VNINDEX", FIRST, 1800.0), exchange=None, average=None, ad_average=None,
                                      reference=None, ceiling=None, floor=None))  # fmt: skip
    conn = clean_db.connect("writer")
    try:
        assert upsert_daily_prices(conn, prices) == PriceUpsertStats(6, 6, 0)
        assert read_daily_prices(conn, "VCB") == prices[:5]
        assert read_daily_prices(conn, "VNINDEX") == prices[5:]
        assert read_daily_prices(conn, "VCB", prices[1].ts, prices[2].ts) == prices[1:3]
        before = ingested(clean_db, "VCB")

        again = upsert_daily_prices(conn, prices)
        assert again == PriceUpsertStats(6, 0, 0) and again.unchanged == 6
        assert ingested(clean_db, "VCB") == before
    finally:
        conn.close()


def test_a_restated_adjusted_basis_updates_only_the_rows_that_changed(clean_db: MigratedDatabase) -> None:
    old = [price("FPT", d, 100.0 + i) for i, d in enumerate(days(4))]
    conn = clean_db.connect("writer")
    try:
        upsert_daily_prices(conn, old)
        before = ingested(clean_db, "FPT")
        # An action went ex on day 4: finfo now sends days 1-3 on the new basis, day 4 as it was,
        # and day 5 is new.
        new = [price("FPT", d, 100.0 + i, ratio=1 / 1.2) for i, d in enumerate(days(3))]
        new += [old[3], price("FPT", FIRST + timedelta(days=4), 104.0)]
        assert upsert_daily_prices(conn, new) == PriceUpsertStats(5, 1, 3)
        after = ingested(clean_db, "FPT")
        assert read_daily_prices(conn, "FPT") == new
    finally:
        conn.close()
    assert after[old[3].ts] == before[old[3].ts]
    assert all(after[p.ts] != before[p.ts] for p in old[:3])


def test_one_impossible_row_rolls_back_the_whole_write(clean_db: MigratedDatabase) -> None:
    good = [price("HPG", d, 25.0) for d in days(3)]
    conn = clean_db.connect("writer")
    try:
        upsert_daily_prices(conn, good[:1])
        bad = [dataclasses.replace(good[0], close=26.5), good[1], dataclasses.replace(good[2], low=30.0)]
        with pytest.raises(psycopg2.errors.CheckViolation):
            upsert_daily_prices(conn, bad)
        # The connection is usable again, and nothing of the failed write landed.
        assert read_daily_prices(conn, "HPG") == good[:1]
    finally:
        conn.close()


def test_nothing_to_write_is_no_round_trip(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    conn.close()
    assert upsert_daily_prices(conn, []) == PriceUpsertStats(0, 0, 0)


def test_the_reader_cannot_upsert(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("reader")
    try:
        with pytest.raises(psycopg2.Error):
            upsert_daily_prices(conn, [price("VCB", FIRST, 64.0)])
    finally:
        conn.close()


def test_a_replaced_history_is_swapped_whole_keeping_unchanged_rows(clean_db: MigratedDatabase) -> None:
    old = [price("FPT", d, 100.0 + i, ratio=1.0) for i, d in enumerate(days(5))]
    conn = clean_db.connect("writer")
    try:
        upsert_daily_prices(conn, old)
        before = ingested(clean_db, "FPT")
        # The new basis: every date before the last rescaled, the second date no longer sent.
        new = [price("FPT", d, 100.0 + i, ratio=1 / 1.2) for i, d in enumerate(days(4))] + old[4:]
        del new[1]
        stats = replace_daily_prices(conn, "FPT", new)
        assert stats == PriceUpsertStats(4, 0, 3, 1)
        assert read_daily_prices(conn, "FPT") == new
        after = ingested(clean_db, "FPT")
        assert after[old[4].ts] == before[old[4].ts], "an unchanged row keeps its ingested_at"
        assert all(after[p.ts] != before[p.ts] for p in new[:3])

        with pytest.raises(ValueError, match="another ticker"):
            replace_daily_prices(conn, "FPT", [*new, price("VCB", FIRST, 60.0)])
        # A failing replacement leaves the stored history as it was: the CHECK on low rejects it.
        broken = [*new[:2], dataclasses.replace(new[2], low=-1.0)]
        with pytest.raises(psycopg2.errors.CheckViolation):
            replace_daily_prices(conn, "FPT", broken)
        assert read_daily_prices(conn, "FPT") == new
    finally:
        conn.close()
