"""The exchange rules the checks judge bars by: bands, ticks, one tick of rounding, the findings' wording."""

from __future__ import annotations

from datetime import date

import pytest

from vietmarket_pipelines.exchange_rules import (
    RuleFinding,
    band_fraction,
    band_rule,
    beyond_band,
    day_band,
    fmt,
    jump_beyond_band,
    off_tick_prices,
    on_tick,
    tick_schedule,
    tick_size,
)


def test_bands_per_exchange_and_first_day() -> None:
    assert [band_fraction(x) for x in ("HOSE", "HNX", "UPCOM")] == [0.07, 0.10, 0.15]
    assert [band_fraction(x, first_day=True) for x in ("HOSE", "HNX", "UPCOM")] == [0.20, 0.30, 0.40]
    with pytest.raises(ValueError, match="'HSX' is not an exchange"):
        band_fraction("HSX")


@pytest.mark.parametrize(
    ("price", "exchange", "tick"),
    [
        (9.99, "HOSE", 0.01),
        (10.0, "HOSE", 0.05),
        (49.95, "HOSE", 0.05),
        (49.95 + 0.05, "HOSE", 0.1),  # 50.0 in binary is a hair off; still the top level
        (50.0, "HOSE", 0.1),
        (9.9, "HNX", 0.1),
        (120.0, "UPCOM", 0.1),
    ],
)
def test_tick_size(price: float, exchange: str, tick: float) -> None:
    assert tick_size(price, exchange) == tick


@pytest.mark.parametrize(
    ("price", "exchange", "expected"),
    [
        (9.99, "HOSE", True),
        (9.995, "HOSE", False),
        (18.35, "HOSE", True),
        (18.37, "HOSE", False),  # 10 VND steps are below 10,000 VND only
        (0.1 + 0.2, "HOSE", True),  # 0.30000000000000004
        (52.3, "HOSE", True),
        (52.35, "HOSE", False),
        (7.4, "HNX", True),
        (7.45, "HNX", False),
        (846.7, "UPCOM", True),
        (846.75, "UPCOM", False),
    ],
)
def test_on_tick(price: float, exchange: str, expected: bool) -> None:
    assert on_tick(price, exchange) is expected


def test_the_tick_schedule_as_data_agrees_with_tick_size() -> None:
    schedule = tick_schedule()
    for price in (0.5, 9.99, 10.0, 25.0, 49.95, 50.0, 120.0, 900.0):
        for exchange in ("HOSE", "HNX", "UPCOM"):
            first = next(tick for x, below, tick in schedule if x == exchange and price < below)
            assert first == tick_size(price, exchange), (price, exchange)


def test_off_tick_prices_names_the_offending_ones() -> None:
    assert off_tick_prices({"open": 18.6, "high": 18.77, "low": 18.35, "close": 18.5}, "HOSE") == {"high": 18.77}


def test_band_allows_less_than_one_tick_of_rounding() -> None:
    floor, ceiling = 17.1, 19.6  # HOSE, tick 0.05 at both bounds
    assert not beyond_band(17.1, 19.6, floor, ceiling, "HOSE")
    assert not beyond_band(17.1, 19.6 + 0.049, floor, ceiling, "HOSE"), "less than a tick: rounding"
    assert beyond_band(17.1, 19.65, floor, ceiling, "HOSE"), "one whole tick above the ceiling"
    assert beyond_band(17.05, 19.6, floor, ceiling, "HOSE"), "one whole tick below the floor"
    assert beyond_band(8.0, 8.6, 7.0, 8.5, "HNX") and not beyond_band(6.95, 8.5, 7.0, 8.5, "HNX")


def test_day_band_and_jumps_from_the_previous_range() -> None:
    down, up = day_band(18.35, 17.1, 19.6)
    assert down == pytest.approx(1 - 17.1 / 18.35) and up == pytest.approx(19.6 / 18.35 - 1)
    previous = (18.0, 18.5)
    assert not jump_beyond_band(previous, (16.8, 19.75), (0.07, 0.07), "HOSE")  # 18.0*0.93=16.74, 18.5*1.07=19.795
    assert jump_beyond_band(previous, (18.6, 19.85), (0.07, 0.07), "HOSE")
    # An adjusted series scaled by one factor keeps the verdict.
    assert not jump_beyond_band((9.0, 9.25), (8.4, 9.875), (0.07, 0.07), "HOSE")
    assert jump_beyond_band(previous, (14.4, 14.8), (0.07, 0.07), "HOSE"), "a 20 % drop: a stock dividend, say"


def test_a_finding_names_ticker_date_values_and_rule() -> None:
    finding = RuleFinding("VCB", date(2026, 2, 13), band_rule("HOSE"), f"high {fmt(19.65)} > ceiling {fmt(19.6)}")
    assert finding.text() == (
        "VCB 2026-02-13: high 19.65 > ceiling 19.6 "
        "(rule: HOSE high and low within the day's [floor, ceiling], one tick of rounding allowed)"
    )
    assert fmt(0.1 + 0.2) == "0.3" and fmt(50.0) == "50"
