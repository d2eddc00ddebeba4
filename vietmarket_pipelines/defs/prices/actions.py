"""Corporate actions read from one ticker's stored daily prices: where adClose/close steps, its factor, its kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from vietmarket_pipelines.prices import (
    HALF_SMALLEST_TICK,
    DailyPrice,
    FactorStep,
    adjustment_factors,
    cumulative_factors,
)

SOURCE = "finfo"
# A share ratio is named only when the factor is known this well (k to a quarter of a percentage
# point); a penny stock's rounded adClose cannot tell a 12 % stock dividend from a cash one.
MAX_RATIO_TOLERANCE = 0.0025


@dataclass(frozen=True)
class DerivedAction:
    """One corporate_actions row derived from prices (source finfo): dates not in prices stay None."""

    ticker: str
    exchange: str | None
    ex_date: date
    factor: float
    cumulative_factor: float
    event_type: str | None
    evidence: dict[str, Any]


def share_ratio_tolerance(step: FactorStep, before: DailyPrice, after: DailyPrice, half_tick: float) -> float:
    """How far k = 1/factor - 1 can be off from rounding: each ad_close is within half_tick, raw closes are exact."""
    r0, r1 = step.before_ratio, step.after_ratio
    return (half_tick / after.close + (r1 / r0) * half_tick / before.close) / r0 + 1e-9


def event_type(factor: float, tolerance: float) -> str | None:
    """The kind of action a factor shows, or None when it cannot tell.

    With k = 1/factor - 1 (new shares per share held):
    - k a whole number >= 1 (within tolerance): `split` (2-for-1 is k = 1; a 100 % stock dividend
      looks the same and is named so too);
    - k a whole percentage (5 %, 12 %, 20 %...): `stock_dividend_or_bonus` (stock dividends and
      bonus shares move prices alike; the prices cannot tell them apart);
    - otherwise `cash_dividend` (a cash amount is no round share ratio), which a cash dividend
      that happens to land within tolerance of a whole percentage is mistaken for the above;
    - factor >= 1 (a consolidation, or finfo correcting itself) or a factor too coarse to read
      (tolerance > MAX_RATIO_TOLERANCE): None.
    """
    if factor >= 1 or tolerance > MAX_RATIO_TOLERANCE:
        return None
    k = 1 / factor - 1
    if round(k) >= 1 and abs(k - round(k)) <= tolerance:
        return "split"
    if round(k * 100) >= 1 and abs(k * 100 - round(k * 100)) <= tolerance * 100:
        return "stock_dividend_or_bonus"
    return "cash_dividend"


def derive_actions(prices: Sequence[DailyPrice], *, half_tick: float = HALF_SMALLEST_TICK) -> list[DerivedAction]:
    """Every action in one ticker's whole stored history (ascending by date), with its cumulative factor.

    The cumulative factor multiplies each step's factor with every later one's, so it is only
    right over the whole history: derive from all stored rows, never from a window.
    """
    steps = adjustment_factors(prices, half_tick=half_tick)
    by_date = {p.trading_date: i for i, p in enumerate(prices)}
    actions: list[DerivedAction] = []
    for step, cumulative in zip(steps, cumulative_factors(steps), strict=True):
        after = prices[by_date[step.ex_date]]
        before = prices[by_date[step.ex_date] - 1]
        tolerance = share_ratio_tolerance(step, before, after, half_tick)
        evidence = {
            "before_date": before.trading_date.isoformat(),
            "before_close": before.close,
            "before_ad_close": before.ad_close,
            "after_date": after.trading_date.isoformat(),
            "after_close": after.close,
            "after_ad_close": after.ad_close,
            "before_ratio": step.before_ratio,
            "after_ratio": step.after_ratio,
            "half_tick": half_tick,
            "share_ratio_tolerance": tolerance,
        }
        actions.append(
            DerivedAction(
                ticker=after.ticker,
                exchange=after.exchange,
                ex_date=step.ex_date,
                factor=step.factor,
                cumulative_factor=cumulative,
                event_type=event_type(step.factor, tolerance),
                evidence=evidence,
            )
        )
    return actions
