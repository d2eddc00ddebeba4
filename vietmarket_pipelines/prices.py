"""Daily prices on both bases (raw and adjusted) and the adjustment-factor steps that mark corporate actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from itertools import pairwise

# The smallest tick on any Vietnamese exchange is 10 VND (HOSE below 10,000 VND).  An adjusted
# price rounded to it is off by at most half of it: 0.005 in thousands of VND.
HALF_SMALLEST_TICK = 0.005


@dataclass(frozen=True)
class DailyPrice:
    """One row of `daily_prices` (see its COMMENTs in schema.sql for every column's unit and basis).

    Prices are thousands of VND for stocks and points for indices.  `open`..`average` are raw
    (traded); `ad_*` are back-adjusted by the provider as of the fetch, equal to raw for an index.
    `ts` is 00:00 UTC of the trading date in unix ms, as a 1d candle's.
    """

    ticker: str
    ts: int
    exchange: str | None
    open: float
    high: float
    low: float
    close: float
    average: float | None
    ad_open: float
    ad_high: float
    ad_low: float
    ad_close: float
    ad_average: float | None
    reference: float | None
    ceiling: float | None
    floor: float | None
    nm_volume: float
    nm_value: float
    pt_volume: float
    pt_value: float
    source: str

    @property
    def trading_date(self) -> date:
        return datetime.fromtimestamp(self.ts / 1000, tz=UTC).date()

    @property
    def adjustment_ratio(self) -> float:
        """ad_close / close: what turns this date's raw prices into the provider's adjusted ones."""
        return self.ad_close / self.close


DAILY_PRICE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DailyPrice))


@dataclass(frozen=True)
class FactorStep:
    """A corporate action seen in the prices: the adjustment ratio changed between two trading dates.

    `ex_date` is the later date (the ex-date, exactly so when no trading date is missing between
    the two rows).  `factor` = before_ratio / after_ratio: raw prices before the ex-date times
    `factor` are on the basis just after it, so it is < 1 for a split, stock dividend, bonus
    shares or cash dividend; it is corporate_actions.factor.
    """

    ex_date: date
    factor: float
    before_ratio: float
    after_ratio: float


def adjustment_factors(prices: Sequence[DailyPrice], *, half_tick: float = HALF_SMALLEST_TICK) -> list[FactorStep]:
    """The steps in ad_close / close over one ticker's prices, ascending by date.

    Tolerance: each adjusted close is taken to be rounded to within `half_tick` (thousands of
    VND), so a date's ratio is off by at most half_tick / close.  Two consecutive dates on the
    same basis therefore differ by at most the sum of those two bounds; only a larger change is a
    step.  A rounding wobble stays inside it; any real action (a 1 % cash dividend on a 100,000
    VND share moves the ratio by 0.01, the bound there is 0.0001) is far outside.
    """
    steps: list[FactorStep] = []
    for before, after in pairwise(prices):
        r0, r1 = before.adjustment_ratio, after.adjustment_ratio
        bound = half_tick / before.close + half_tick / after.close
        # 1e-12 absorbs float noise in the ratios themselves, far below any rounding bound.
        if abs(r1 - r0) > bound + 1e-12:
            steps.append(FactorStep(after.trading_date, r0 / r1, r0, r1))
    return steps


def cumulative_factors(steps: Sequence[FactorStep]) -> list[float]:
    """corporate_actions.cumulative_factor of each step: its factor times every later step's.

    It multiplies a raw price from before that ex-date onto the basis after the last step.
    """
    out: list[float] = []
    running = 1.0
    for step in reversed(steps):
        running *= step.factor
        out.append(running)
    return out[::-1]
