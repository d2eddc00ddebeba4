"""Client.history against the live API: paging equals the database, the index's meaning, the price basis, errors."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pandas as pd
import psycopg2
import pytest

from tests.client.conftest import bar_times
from tests.history_api.conftest import KEY, ApiDatabase, LiveApi
from tests.history_api.prices_market import ACTIONS, DAYS, FACT_BAR, FACT_DAY, HOURLY_DAYS, PricesDatabase
from vietmarket_client import VN_TZ, AuthError, BadRequest, Client
from vietmarket_core.market import daily_bar_ts

ICT = "Asia/Ho_Chi_Minh"


def stored(
    dsn: str, table: str, from_ms: int, to_ms: int
) -> list[tuple[int, float, float, float, float, int | None, str]]:
    """VCB's bars in [from, to) as the database holds them, oldest first."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT ts, o, h, l, c, round(v)::bigint, source FROM {table} "
                "WHERE ticker = 'VCB' AND ts >= %s AND ts < %s ORDER BY ts",
                (from_ms, to_ms),
            )
            return list(cur.fetchall())
    finally:
        conn.close()


def as_rows(frame: pd.DataFrame) -> list[tuple[float, float, float, float, int | None, str]]:
    return [
        (o, h, lo, c, None if pd.isna(v) else int(v), s)
        for o, h, lo, c, v, s in frame[["o", "h", "l", "c", "v", "source"]].itertuples(index=False)
    ]


def test_paging_across_pages_equals_the_database(
    client: Client, api_db: ApiDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vietmarket_client")
    frame = client.history("VCB", "1d", "2020-01-01", "2024-01-01", page_size=250)
    expected = stored(api_db.admin_dsn, "candles_1d", daily_bar_ts(date(2020, 1, 1)), daily_bar_ts(date(2024, 1, 1)))
    pages = [r for r in caplog.records if "page of" in r.getMessage()]
    assert len(expected) > 1000 and len(pages) == -(-len(expected) // 250) >= 4
    assert as_rows(frame) == [row[1:] for row in expected]
    # The index is the trading date of each stored bar (its 00:00 UTC), at 00:00 ICT.
    assert list(bar_times(frame.index).date) == [datetime.fromtimestamp(r[0] / 1000, tz=UTC).date() for r in expected]
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


def test_the_frame_s_columns_and_types(client: Client) -> None:
    frame = client.history("VCB", "1d", date(2026, 2, 9), date(2026, 2, 14))
    assert list(frame.columns) == ["o", "h", "l", "c", "v", "source"]
    assert [str(t) for t in frame.dtypes] == ["float64", "float64", "float64", "float64", "Int64", "string"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "ts"


def test_a_daily_index_is_midnight_ict_of_the_trading_date(client: Client) -> None:
    frame = client.history("VCB", "1d", date(2026, 2, 9), date(2026, 2, 14))
    assert str(bar_times(frame.index).tz) == ICT
    assert list(frame.index) == [pd.Timestamp(f"2026-02-{d:02d}", tz=ICT) for d in range(9, 14)]
    # National Day 2025: closed on Monday 1 and Tuesday 2 September; 2025-08-30/31 is a weekend.
    around = client.history("VCB", "1d", "2025-08-29", "2025-09-05")
    assert [str(d) for d in bar_times(around.index).date] == ["2025-08-29", "2025-09-03", "2025-09-04"]


def test_start_and_end_are_exact_on_the_shown_index(client: Client) -> None:
    # [start, end) applies to the index as shown: one minute past midnight ICT leaves that day out ...
    # A naive datetime is wall time in Asia/Ho_Chi_Minh: the rule under test.
    late = client.history("VCB", "1d", datetime(2026, 2, 9, 0, 1), "2026-02-13")  # noqa: DTZ001
    assert [str(d) for d in bar_times(late.index).date] == ["2026-02-10", "2026-02-11", "2026-02-12"]
    # ... an aware string keeps its instant (17:00Z is 00:00 ICT the next day), and end stays exclusive.
    aware = client.history("VCB", "1d", "2026-02-08T17:00:00Z", datetime(2026, 2, 11, tzinfo=VN_TZ))
    assert [str(d) for d in bar_times(aware.index).date] == ["2026-02-09", "2026-02-10"]
    assert client.history("VCB", "1d", "2026-02-09", "2026-02-09").empty


def test_intraday_bars_are_at_their_open_instant_in_ict(client: Client, api_db: ApiDatabase) -> None:
    start, end = datetime(2026, 2, 10, 10, 0), "2026-02-13T14:00"  # noqa: DTZ001  # naive: ICT wall time
    frame = client.history("VCB", "1h", start, end)
    from_ms = int(start.replace(tzinfo=VN_TZ).timestamp()) * 1000
    to_ms = int(datetime(2026, 2, 13, 14, 0, tzinfo=VN_TZ).timestamp()) * 1000
    expected = stored(api_db.admin_dsn, "candles_1h", from_ms, to_ms)
    assert as_rows(frame) == [row[1:] for row in expected]
    assert str(bar_times(frame.index).tz) == ICT
    assert frame.index[0] == pd.Timestamp("2026-02-10 10:00", tz=ICT)
    assert frame.index[-1] == pd.Timestamp("2026-02-13 13:00", tz=ICT)
    assert [int(t.timestamp() * 1000) for t in frame.index] == [row[0] for row in expected]


def test_raw_and_adjusted_differ_before_the_ex_dates(prices_api: LiveApi, prices_db: PricesDatabase) -> None:
    with Client(prices_api.url, KEY) as client:
        raw = client.history("VCB", "1d", DAYS[0], date(2026, 3, 7), adjustment="raw")
        adjusted = client.history("VCB", "1d", DAYS[0], date(2026, 3, 7))
        raw_1h = client.history("VCB", "1h", HOURLY_DAYS[0], date(2026, 3, 7), adjustment="raw")
        adjusted_1h = client.history("VCB", "1h", HOURLY_DAYS[0], date(2026, 3, 7))
    assert list(bar_times(raw.index).date) == list(bar_times(adjusted.index).date) == DAYS
    fact = pd.Timestamp(FACT_DAY, tz=ICT)
    assert tuple(raw.loc[fact, ["o", "h", "l", "c"]]) == FACT_BAR
    assert adjusted.loc[fact, "c"] == round(FACT_BAR[3] / 1.2, 2)
    assert set(raw["source"]) == {"finfo"} and set(adjusted["source"]) == {"vci"}
    last_ex = max(ex for ex, _, _ in ACTIONS)
    before = bar_times(raw.index).date < last_ex
    assert (raw.loc[before, "c"] != adjusted.loc[before, "c"]).all()
    assert (raw.loc[~before, "c"] == adjusted.loc[~before, "c"]).all()
    assert raw["c"].tolist() == [p.close for p in sorted(prices_db.prices, key=lambda p: p.ts)]
    # Intraday raw bars are the adjusted ones un-adjusted by the day's factor (to 0.01).
    hourly_before = bar_times(raw_1h.index).date < last_ex
    ratio = raw_1h["c"] / adjusted_1h["c"]
    assert ((ratio[hourly_before] - 1.2).abs() < 0.01).all()
    assert (raw_1h.loc[~hourly_before, "c"] == adjusted_1h.loc[~hourly_before, "c"]).all()


def test_a_wrong_key_raises_auth_error(live_api: LiveApi) -> None:
    with Client(live_api.url, "wrong-key-" + "z" * 24) as client, pytest.raises(AuthError) as raised:
        client.history("VCB", "1d", "2026-02-09", "2026-02-14")
    error = raised.value
    assert (error.status, error.code, error.attempts) == (401, "unauthorized", 1)
    assert "GET /candles/bulk: 401 unauthorized" in str(error) and "X-API-Key" in str(error)


def test_a_400_names_the_endpoint_and_the_parameter(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    with pytest.raises(BadRequest) as raised:
        client.history("VCB", "2d", "2026-02-09", "2026-02-14")
    error = raised.value
    assert (error.status, error.code, error.parameter, error.attempts) == (400, "invalid_tf", "tf", 1)
    assert str(error).startswith("GET /candles/bulk: 400 invalid_tf") and "[parameter tf='2d']" in str(error)
    with pytest.raises(BadRequest) as on_export:
        client.export("1d", "2026-02-09", "2026-02-14", exchange="NYSE")  # type: ignore[arg-type]
    assert on_export.value.parameter == "exchange" and "GET /export" in str(on_export.value)
    # A 4xx is an answer, not a hiccup: nothing was retried.
    assert not [r for r in caplog.records if "retry" in r.getMessage()]


def test_arguments_the_client_can_refuse_itself(client: Client) -> None:
    with pytest.raises(ValueError, match="not one ticker"):
        client.history("VCB,FPT", "1d", "2026-02-09", "2026-02-14")
    with pytest.raises(ValueError, match=r"end .* is before start"):
        client.history("VCB", "1d", "2026-02-14", "2026-02-09")
    with pytest.raises(ValueError, match="start='yesterday' is not an ISO 8601"):
        client.history("VCB", "1d", "yesterday", "2026-02-09")
    with pytest.raises(ValueError, match="page_size=0"):
        client.history("VCB", "1d", "2026-02-09", "2026-02-14", page_size=0)
