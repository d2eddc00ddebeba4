"""The exchanges' tick grid and daily price bands, vectorized, as the simulated market must obey them."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Prices = npt.NDArray[np.float64]
Rounding = Literal["round", "floor", "ceil"]

# Around the reference price; a first trading day (or the first after a long suspension) is wider.
BAND = {"HOSE": 0.07, "HNX": 0.10, "UPCOM": 0.15}
FIRST_DAY_BAND = {"HOSE": 0.20, "HNX": 0.30, "UPCOM": 0.40}
# Ticks in whole VND.  HOSE's grows with the price level; its level boundaries (10,000 and
# 50,000) are multiples of every tick, which is what keeps a level's multiples on the grid.
HOSE_LEVELS = ((10_000.0, 10.0), (50_000.0, 50.0))
HOSE_TOP_TICK = 100.0
FLAT_TICK = 100.0
_EPS = 1e-6  # in ticks: absorbs the binary error of thousands x 1000


def tick_vnd(price: Prices, exchange: str) -> Prices:
    """The tick, in whole VND, at each price (thousands of VND)."""
    return _tick_of_vnd(np.asarray(price, dtype=np.float64) * 1000, exchange)


def _tick_of_vnd(vnd: Prices, exchange: str) -> Prices:
    if exchange != "HOSE":
        return np.full_like(vnd, FLAT_TICK)
    (low_bound, low_tick), (mid_bound, mid_tick) = HOSE_LEVELS
    return np.where(vnd < low_bound, low_tick, np.where(vnd < mid_bound, mid_tick, HOSE_TOP_TICK))


def to_grid(price: Prices, exchange: str, how: Rounding = "round") -> Prices:
    """Prices (thousands of VND) moved onto the exchange's tick grid: nearest, or the grid point below/above."""
    vnd = np.round(np.asarray(price, dtype=np.float64) * 1000, 3)
    tick = _tick_of_vnd(vnd, exchange)
    steps = vnd / tick
    if how == "floor":
        steps = np.floor(steps + _EPS)
    elif how == "ceil":
        steps = np.ceil(steps - _EPS)
    else:
        steps = np.round(steps)
    return np.round(steps * tick / 1000, 2)


def on_grid(price: Prices, exchange: str) -> npt.NDArray[np.bool_]:
    price = np.asarray(price, dtype=np.float64)
    return np.asarray(np.abs(price - to_grid(price, exchange)) < 1e-9)


def band(ref: Prices, exchange: str, first_day: npt.NDArray[np.bool_] | None = None) -> tuple[Prices, Prices]:
    """(floor, ceiling) around each reference price, each rounded to the tick inward."""
    ref = np.asarray(ref, dtype=np.float64)
    pct: Any = np.full_like(ref, BAND[exchange])
    if first_day is not None:
        pct = np.where(first_day, FIRST_DAY_BAND[exchange], pct)
    return to_grid(ref * (1 - pct), exchange, "ceil"), to_grid(ref * (1 + pct), exchange, "floor")


def min_price(exchange: str) -> float:
    """The lowest price a reference can take: one tick."""
    return 0.01 if exchange == "HOSE" else FLAT_TICK / 1000
