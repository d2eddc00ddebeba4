"""What the prices domain reads from numbers alone: a moved adjusted basis, and the kind of an action."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from tests.timescale.test_daily_prices import price
from vietmarket_pipelines.defs.prices.actions import MAX_RATIO_TOLERANCE, derive_actions, event_type
from vietmarket_pipelines.defs.prices.fetch import basis_shift

DAYS = [date(2026, 2, 2) + timedelta(days=i) for i in range(6)]


def test_a_rescaled_overlap_is_a_basis_shift() -> None:
    stored = [price("VCB", d, 60.0 + i) for i, d in enumerate(DAYS)]
    fetched = [price("VCB", d, 60.0 + i, ratio=1 / 1.2) for i, d in enumerate(DAYS[:5])] + stored[5:]
    shift = basis_shift(stored, fetched)
    assert shift is not None
    assert shift.first_date == DAYS[0] and shift.dates_compared == 6 and shift.dates_moved == 5
    assert shift.factor == pytest.approx(1 / 1.2, rel=1e-3)


def test_a_lone_revised_bar_and_rounding_are_no_basis_shift() -> None:
    stored = [price("VCB", d, 60.0 + i, ratio=0.9) for i, d in enumerate(DAYS)]
    # finfo corrected one day's raw close, and its adjusted close with it: the same ratio.
    revised = [*stored[:3], price("VCB", DAYS[3], 61.7, ratio=0.9), *stored[4:]]
    assert basis_shift(stored, revised) is None
    # An adjusted close one rounding step away (half of the smallest tick) is no restatement...
    wobble = [*stored[:2], dataclasses.replace(stored[2], ad_close=stored[2].ad_close + 0.005), *stored[3:]]
    assert basis_shift(stored, wobble) is None
    # ...two ticks are.
    moved = [*stored[:2], dataclasses.replace(stored[2], ad_close=stored[2].ad_close + 0.02), *stored[3:]]
    assert basis_shift(stored, moved) is not None
    # Dates only one side has are not compared.
    assert basis_shift(stored[:2], stored[2:]) is None


@pytest.mark.parametrize(
    ("factor", "kind"),
    [
        (1 / 2, "split"),
        (1 / 3, "split"),
        (1 / 1.2, "stock_dividend_or_bonus"),
        (1 / 1.12, "stock_dividend_or_bonus"),
        (1 / 1.05, "stock_dividend_or_bonus"),
        (1 - 1.5 / 36.4, "cash_dividend"),  # 1,500 VND on a 36,400 VND close
        (1.0, None),
        (1.25, None),  # a consolidation, or finfo taking an action back
    ],
)
def test_the_kind_an_action_factor_shows(factor: float, kind: str | None) -> None:
    assert event_type(factor, 1e-4) == kind


def test_a_factor_too_coarse_to_read_names_no_kind() -> None:
    assert event_type(1 / 1.2, MAX_RATIO_TOLERANCE * 2) is None


def test_actions_and_cumulative_factors_from_prices() -> None:
    # A 2-for-1 split ex DAYS[2], then a 20 % stock dividend ex DAYS[4]: finfo's basis is today's.
    ratios = [1 / 2 / 1.2, 1 / 2 / 1.2, 1 / 1.2, 1 / 1.2, 1.0, 1.0]
    closes = [80.0, 81.0, 40.5, 41.0, 34.2, 34.5]
    prices = [price("VCB", d, c, ratio=r) for d, c, r in zip(DAYS, closes, ratios, strict=True)]
    first, second = derive_actions(prices)
    assert (first.ex_date, second.ex_date) == (DAYS[2], DAYS[4])
    assert first.factor == pytest.approx(0.5, rel=1e-3) and first.event_type == "split"
    assert second.factor == pytest.approx(1 / 1.2, rel=1e-3) and second.event_type == "stock_dividend_or_bonus"
    assert second.cumulative_factor == second.factor
    assert first.cumulative_factor == pytest.approx(first.factor * second.factor)
    assert first.evidence["before_date"] == DAYS[1].isoformat() and first.evidence["after_close"] == 40.5
    assert first.exchange == "HOSE"
