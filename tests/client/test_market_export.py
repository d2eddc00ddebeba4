"""Client.market and Client.export against the live API: /export's Parquet as a (ticker, ts) frame."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg2

from tests.client.conftest import bar_times
from tests.history_api.conftest import LAST_DAY, ApiDatabase
from vietmarket_client import Client
from vietmarket_core.market import daily_bar_ts

ICT = "Asia/Ho_Chi_Minh"


def daily_rows(dsn: str, from_ms: int, to_ms: int, tickers: list[str]) -> list[tuple[str, int, float, int | None]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT ticker, ts, c, round(v)::bigint FROM candles_1d "
                "WHERE ticker = ANY(%s) AND ts >= %s AND ts < %s ORDER BY ticker, ts",
                (tickers, from_ms, to_ms),
            )
            return list(cur.fetchall())
    finally:
        conn.close()


def test_market_is_every_ticker_on_one_trading_date(client: Client) -> None:
    day = client.market("1d", LAST_DAY)
    assert day.index.names == ["ticker", "ts"]
    assert list(day.index.get_level_values("ticker")) == ["SHB", "VCB", "VNINDEX"]
    assert set(day.index.get_level_values("ts")) == {pd.Timestamp(LAST_DAY, tz=ICT)}
    assert list(day.columns) == ["o", "h", "l", "c", "v", "source"]
    assert day.loc[("SHB", pd.Timestamp(LAST_DAY, tz=ICT)), "c"] == 10.5
    assert pd.isna(day["v"].loc[("VNINDEX", pd.Timestamp(LAST_DAY, tz=ICT))])  # an index has no share volume
    assert list(client.market("1d", "2026-02-13", exchange="HNX").index.get_level_values("ticker")) == ["SHB"]
    # Hourly: the day's five bars at their open instants; a datetime names its ICT date.
    hourly = client.market("1h", pd.Timestamp("2026-02-13 15:30", tz=ICT).to_pydatetime())
    assert [t.strftime("%H:%M") for t in hourly.loc["VCB"].index] == ["09:00", "10:00", "11:00", "13:00", "14:00"]
    assert client.market("1d", date(2026, 2, 16)).empty  # Tet


def test_export_equals_the_database_and_history(client: Client, api_db: ApiDatabase) -> None:
    frame = client.export("1d", "2026-01-01", "2026-02-14", tickers=["VCB", "SHB"])
    expected = daily_rows(
        api_db.admin_dsn, daily_bar_ts(date(2026, 1, 1)), daily_bar_ts(date(2026, 2, 14)), ["VCB", "SHB"]
    )
    got = [
        (ticker, ts.date(), c, None if pd.isna(v) else int(v))
        for (ticker, ts), c, v in zip(frame.index, frame["c"], frame["v"], strict=True)
    ]
    assert got == [(t, pd.Timestamp(ts, unit="ms").date(), c, v) for t, ts, c, v in expected]
    assert frame.index.is_monotonic_increasing
    # One ticker's slice of an export is what history() returns for it, types and all.
    vcb = frame.loc["VCB"]
    assert isinstance(vcb, pd.DataFrame)
    pd.testing.assert_frame_equal(vcb, client.history("VCB", "1d", "2026-01-01", "2026-02-14"))
    # A comma-separated string is the same selection.
    pd.testing.assert_frame_equal(client.export("1d", "2026-01-01", "2026-02-14", tickers="SHB,VCB"), frame)


def test_an_empty_export_still_has_the_frame_s_shape(client: Client) -> None:
    empty = client.export("1h", "2026-02-14", "2026-02-16", tickers="VCB")  # a weekend
    assert empty.empty and empty.index.names == ["ticker", "ts"]
    assert list(empty.columns) == ["o", "h", "l", "c", "v", "source"]
    assert str(bar_times(empty.index.get_level_values("ts")).tz) == ICT
