"""The exchanges' price rules a stored bar is judged by: daily bands, the tick grid, and the findings' wording.

Prices are thousands of VND, as every stored stock price (a 10 VND tick is 0.01).  Indices are in
points and obey neither rule; callers leave them out.  The simulator keeps its own copy of these
rules (simulator/rules.py) on purpose: the checks must not share a bug with the market they judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from vietmarket_core.market import EXCHANGES

# Around the day's reference price.  A first trading day, or the first after a long suspension, is wider.
BAND = {"HOSE": 0.07, "HNX": 0.10, "UPCOM": 0.15}
FIRST_DAY_BAND = {"HOSE": 0.20, "HNX": 0.30, "UPCOM": 0.40}

# HOSE's tick grows with the price: (below this price in thousands of VND, tick in thousands of VND).
HOSE_TICKS = ((10.0, 0.01), (50.0, 0.05))
HOSE_TOP_TICK = 0.1
FLAT_TICK = 0.1  # HNX and UPCOM: 100 VND at every price

# In ticks: a price within this of a grid point is on it.  Thousands of VND with two decimals carry
# binary error of ~1e-15; anything a provider really sent off the grid is a tenth of a tick or more.
ON_TICK_TOLERANCE = 1e-6
# How many dates a failing check names in its metadata (the description names the first in full).
NAMED_DATES = 10


def _known(exchange: str) -> str:
    if exchange not in EXCHANGES:
        raise ValueError(f"{exchange!r} is not an exchange ({', '.join(EXCHANGES)})")
    return exchange


def band_fraction(exchange: str, *, first_day: bool = False) -> float:
    """The exchange's band as a fraction of the reference price (0.07 is ±7 %)."""
    return (FIRST_DAY_BAND if first_day else BAND)[_known(exchange)]


def tick_size(price: float, exchange: str) -> float:
    """The tick, in thousands of VND, at `price` (thousands of VND) on `exchange`."""
    if _known(exchange) != "HOSE":
        return FLAT_TICK
    # A hair below a level boundary in binary is still the boundary's level (49.95 + 0.05 is 50.0).
    for below, tick in HOSE_TICKS:
        if price < below - ON_TICK_TOLERANCE * tick:
            return tick
    return HOSE_TOP_TICK


def tick_schedule() -> list[tuple[str, float, float]]:
    """(exchange, below this price, tick) rows, thousands of VND: the tick rule as data for a SQL query.

    A price's tick is that of the first row of its exchange with price < below, rows ascending.
    """
    top = math.inf
    hose = [("HOSE", below, tick) for below, tick in HOSE_TICKS] + [("HOSE", top, HOSE_TOP_TICK)]
    return hose + [(x, top, FLAT_TICK) for x in EXCHANGES if x != "HOSE"]


def on_tick(price: float, exchange: str) -> bool:
    """Whether `price` (thousands of VND) is a multiple of the exchange's tick at that price."""
    steps = price / tick_size(price, exchange)
    return abs(steps - round(steps)) < ON_TICK_TOLERANCE


def beyond_band(low: float, high: float, floor: float, ceiling: float, exchange: str) -> bool:
    """Whether a bar's range leaves [floor, ceiling] by a whole tick or more.

    "One tick of rounding": a price outside the band by less than one tick (at the bound) is taken
    for rounding, e.g. a value sent with more decimals than the grid; a price a whole tick or more
    outside is one the exchange would have refused to match.
    """
    over = high - ceiling
    under = floor - low
    slack = 1 - ON_TICK_TOLERANCE
    return over >= slack * tick_size(ceiling, exchange) or under >= slack * tick_size(floor, exchange)


def day_band(reference: float, floor: float, ceiling: float) -> tuple[float, float]:
    """(down, up): how far below and above the reference the day's real floor and ceiling sit, as fractions."""
    return 1 - floor / reference, ceiling / reference - 1


def jump_beyond_band(
    previous: tuple[float, float], bar: tuple[float, float], band: tuple[float, float], exchange: str
) -> bool:
    """Whether a day's (low, high) leaves what the band allows after the previous trading day's (low, high).

    The day's reference lies inside the previous day's range (HOSE and HNX: its close; UPCOM: its
    volume-weighted average), so every price of the day lies in [previous low x (1 - down),
    previous high x (1 + up)].  Both sides scale alike on any one adjustment basis, so the bound
    holds for an adjusted series too, with one tick of rounding as in `beyond_band`.
    """
    (prev_low, prev_high), (low, high), (down, up) = previous, bar, band
    return beyond_band(low, high, prev_low * (1 - down), prev_high * (1 + up), exchange)


def jump_rule(exchange: str) -> str:
    return (
        f"{exchange} no move beyond the day's band from the previous trading day's range "
        "unless a corporate action went ex in between"
    )


@dataclass(frozen=True)
class RuleFinding:
    """One broken rule on one bar: ticker, trading date, the values, and which rule."""

    ticker: str
    day: date
    rule: str
    values: str

    def text(self) -> str:
        return f"{self.ticker} {self.day.isoformat()}: {self.values} (rule: {self.rule})"


def band_rule(exchange: str) -> str:
    return f"{exchange} high and low within the day's [floor, ceiling], one tick of rounding allowed"


def tick_rule(exchange: str) -> str:
    if exchange == "HOSE":
        return "HOSE tick: 10 VND below 10,000, 50 VND from 10,000 to 49,950, 100 VND from 50,000"
    return f"{exchange} tick: 100 VND"


def fmt(price: float) -> str:
    """A price in thousands of VND as the findings print it: no float noise, no trailing zeros."""
    text = f"{price:.4f}".rstrip("0").rstrip(".")
    return text if text not in {"", "-0"} else "0"


def off_tick_prices(prices: dict[str, float], exchange: str) -> dict[str, float]:
    """The named prices (e.g. open, high, low, close) that are off the tick grid."""
    return {name: p for name, p in prices.items() if math.isfinite(p) and not on_tick(p, exchange)}
