"""The shared market vocabulary: timestamp meaning, tickers, and freedom from Dagster."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import pytest

from vietmarket_core.market import (
    TICKER_PATTERN,
    VN_TZ,
    daily_bar_ts,
    intraday_bar_ts,
    trading_date_of,
    ts_to_vn,
)


def test_daily_bar_is_midnight_utc_of_the_trading_date() -> None:
    assert daily_bar_ts(date(2026, 2, 13)) == 1770940800000
    assert trading_date_of(1770940800000, "1d") == date(2026, 2, 13)


def test_intraday_bar_is_the_true_utc_instant_of_its_open() -> None:
    ts = intraday_bar_ts(datetime(2026, 2, 13, 14, 45, tzinfo=VN_TZ))
    assert ts == 1770968700000  # 2026-02-13T07:45:00Z
    assert ts_to_vn(ts) == datetime(2026, 2, 13, 14, 45, tzinfo=VN_TZ)
    assert trading_date_of(ts, "15m") == date(2026, 2, 13)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        intraday_bar_ts(datetime(2026, 2, 13, 14, 45))  # noqa: DTZ001


@pytest.mark.parametrize("ticker", ["VCB", "VNINDEX", "E1VFVN30", "VN30"])
def test_ticker_pattern_accepts_real_tickers(ticker: str) -> None:
    assert TICKER_PATTERN.match(ticker)


@pytest.mark.parametrize("ticker", ["vcb", "VCB;DROP", "", "VCB'--", "A" * 13, "FPT "])
def test_ticker_pattern_rejects_everything_else(ticker: str) -> None:
    assert not TICKER_PATTERN.match(ticker)


def test_shared_module_imports_without_dagster() -> None:
    code = "import sys, vietmarket_core.market; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
