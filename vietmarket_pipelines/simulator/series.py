"""One stock's daily prices from its walk and its corporate actions: raw on the tick grid within each
day's band, the reference, ceiling and floor, and the series adjusted as of today.

The walk (market.py) is the series adjusted as of ``CALENDAR_END`` for the default calendar.  Raw
prices are the walk on the basis of each day: before a default action they are the walk divided by
its factor (plus the cash paid since, which the walk does not show), and from the ex-date of an
action after ``CALENDAR_END`` on they are the walk times its factor (minus its cash).  The adjusted
series is raw times the product of the factors of every adjusting action that went ex after the
bar and by today; cash dividends are not adjusted for (see actions.py).  All of it is vectorized
per ticker; market.py caches it per (ticker, today, actions in effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vietmarket_pipelines.simulator.actions import CALENDAR_END, CorporateAction
from vietmarket_pipelines.simulator.rules import Rounding, band, min_price, to_grid

Floats = npt.NDArray[np.float64]
Series = dict[str, npt.NDArray[Any]]
# Vectorized passes before the band clamp falls back to a day-by-day pass.  A clamp moves the next
# day's reference, so a pass settles one more day of a chain of clamped days; chains are short.
VECTOR_PASSES = 12
# A high rounds up and a low down, so that the walk's range stays inside the bar.
TARGET_ROUNDING: tuple[tuple[str, Rounding], ...] = (("o", "round"), ("h", "ceil"), ("l", "floor"), ("c", "round"))
# The highest raw price the walk may reach on the default calendar's basis, in thousands of VND,
# before the cash paid since is added back and the bands applied: the market's raw highs stay
# within a few times of it (2,612 at most, measured), far below what reads as whole VND.
RAW_PRICE_CAP = 1_000.0


def ex_indices(days: npt.NDArray[np.int64], actions: tuple[CorporateAction, ...]) -> list[tuple[int, CorporateAction]]:
    """Each action with the index of the first session on or after its ex-date; later ones are dropped."""
    out = []
    for action in actions:
        i = int(np.searchsorted(days, action.ex_date.toordinal(), "left"))
        if i < len(days):
            out.append((i, action))
    return out


def _factors(n: int, effective: list[tuple[int, CorporateAction]]) -> Floats:
    f_day = np.ones(n)
    for i, action in effective:
        f_day[i] *= action.factor
    return f_day


def _cash(
    walk_close: Floats, basis: Floats, anchor: int, effective: list[tuple[int, CorporateAction]]
) -> tuple[Floats, Floats]:
    """(what to add to the walk, each ex-day's cash in raw thousands of VND)."""
    n = len(walk_close)
    before, since, paid = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, action in effective:
        if action.kind != "cash_dividend":
            continue
        if action.amount is not None:
            amount = action.amount
        else:
            last_close = walk_close[max(i - 1, 0)] * basis[max(i - 1, 0)]
            amount = max(0.01, round(float(action.cash_yield or 0.0) * last_close, 2))
        paid[i] += amount
        (before if i < anchor else since)[i] += amount / basis[i]
    add = (before.sum() - np.cumsum(before)) - np.cumsum(since)
    return add, paid


def build(walk: Series, actions: tuple[CorporateAction, ...], exchange: str) -> Series:
    """The full daily series of one stock (see the module docstring)."""
    days = np.asarray(walk["day"], dtype=np.int64)
    n = len(days)
    effective = ex_indices(days, actions)
    f_day = _factors(n, effective)
    cum = np.cumprod(f_day)
    anchor = int(np.searchsorted(days, CALENDAR_END.toordinal(), "right"))
    basis = cum / (cum[anchor - 1] if anchor else 1.0)
    walk = _within_traded_prices(walk, basis[:anchor])
    add, paid = _cash(np.asarray(walk["c"], dtype=np.float64), basis, anchor, effective)
    floor_price = min_price(exchange)
    targets = {
        k: np.maximum(to_grid((np.asarray(walk[k]) + add) * basis, exchange, how), floor_price)
        for k, how in TARGET_ROUNDING
    }
    legal = _clamp(targets, _Days(float(targets["o"][0]), f_day, paid, exchange))
    out: Series = {"day": days, "v": np.asarray(walk["v"]), "cash": paid, **legal}
    # Factor of the adjusting actions after each bar: exactly 1.0 where there are none.
    later = np.append(np.cumprod(f_day[::-1])[::-1][1:], 1.0)
    for k in ("o", "h", "l", "c", "avg"):
        out["ad_" + k] = np.round(out[k] * later, 2 if k != "avg" else 3)
    out["factor"] = later
    return out


def _within_traded_prices(walk: Series, basis: Floats) -> Series:
    """The walk scaled down whole when its raw prices would pass RAW_PRICE_CAP.

    Raw prices are the walk on each day's basis, and decades of stock dividends lift the early ones
    far above anything Vietnam trades at (TCB came to 10,673 thousand VND), which a validator
    rightly takes for whole VND.  Only the default calendar's basis counts (`basis` is the days up to
    CALENDAR_END), so an action a test adds never rescales history.
    """
    if not len(basis):
        return walk
    peak = float(np.max(np.asarray(walk["h"], dtype=np.float64)[: len(basis)] * basis))
    if peak <= RAW_PRICE_CAP:
        return walk
    scale = RAW_PRICE_CAP / peak
    return {**walk, **{k: np.asarray(walk[k], dtype=np.float64) * scale for k in ("o", "h", "l", "c")}}


def index_series(walk: Series) -> Series:
    """An index has no actions and no band: raw and adjusted are the walk; its reference is the last close."""
    out: Series = {"day": np.asarray(walk["day"]), "v": np.asarray(walk["v"])}
    for k in ("o", "h", "l", "c"):
        out[k] = out["ad_" + k] = np.asarray(walk[k], dtype=np.float64)
    c = out["c"]
    out["avg"] = out["ad_avg"] = np.round((out["h"] + out["l"] + 2 * c) / 4, 2)
    out["ref"] = np.concatenate([out["o"][:1], c[:-1]])
    out["ceiling"] = out["floor"] = np.full(len(c), np.nan)
    out["factor"] = np.ones(len(c))
    out["cash"] = np.zeros(len(c))
    return out


def vwap(h: Floats, low: Floats, c: Floats) -> Floats:
    """The day's volume-weighted average, in [low, h], to the whole VND."""
    return np.round((h + low + 2 * c) / 4, 3)


@dataclass(frozen=True)
class _Days:
    """What each day's reference depends on besides the day before: its actions and the listing price."""

    first_ref: float
    f_day: Floats
    paid: Floats
    exchange: str

    def window(self, i: int) -> _Days:
        return _Days(self.first_ref, self.f_day[i - 1 : i + 1], self.paid[i - 1 : i + 1], self.exchange)


def _references(bars: dict[str, Floats], days: _Days) -> tuple[Floats, Floats, Floats]:
    """(reference, floor, ceiling) of every day given the days before it."""
    c, exchange = bars["c"], days.exchange
    # UPCOM's reference is the previous day's average; on an ex-date it is adjusted for the action.
    base = vwap(bars["h"], bars["l"], c) if exchange == "UPCOM" else c
    prev = np.concatenate([[days.first_ref], base[:-1]])
    ref = np.maximum(to_grid(prev * days.f_day - days.paid, exchange), min_price(exchange))
    ref[0] = days.first_ref
    first_day = np.zeros(len(c), dtype=bool)
    first_day[0] = True
    floor, ceiling = band(ref, exchange, first_day)
    return ref, floor, ceiling


def _clamp(targets: dict[str, Floats], days: _Days) -> Series:
    """The targets clipped into each day's band, to the fixed point where every reference is settled."""
    cur = dict(targets)
    for _ in range(VECTOR_PASSES):
        ref, floor, ceiling = _references(cur, days)
        new = {k: np.clip(v, floor, ceiling) for k, v in targets.items()}
        if all(np.array_equal(new[k], cur[k]) for k in new):
            break
        cur = new
    else:
        cur = _clamp_day_by_day(targets, cur, days)
        ref, floor, ceiling = _references(cur, days)
    return {**cur, "avg": vwap(cur["h"], cur["l"], cur["c"]), "ref": ref, "floor": floor, "ceiling": ceiling}


def _clamp_day_by_day(targets: dict[str, Floats], cur: dict[str, Floats], days: _Days) -> dict[str, Floats]:
    """The rare long chain of clamped days (a penny stock pinned to its limits), settled in order."""
    out = {k: v.copy() for k, v in cur.items()}
    for i in range(1, len(days.f_day)):
        _, floor, ceiling = _references({k: v[i - 1 : i + 1] for k, v in out.items()}, days.window(i))
        for k in out:
            out[k][i] = min(max(targets[k][i], floor[1]), ceiling[1])
    return out
