"""Corporate actions of the simulated market: the seeded default calendar and the ones a test adds.

Kinds, and the factor by which an adjusted series multiplies every bar before the ex-date:

- ``stock_dividend`` and ``bonus``: ``ratio`` new shares per share held (0.2 = 20 %); factor 1 / (1 + ratio).
- ``split``: ``ratio`` shares after per share before (2.0 = two-for-one); factor 1 / ratio.
- ``cash_dividend``: ``amount`` in thousands of VND per share; factor 1.  The adjusted series of
  VCI, SSI and finfo adjust for splits, stock dividends and bonus shares only (providers.md), so
  a cash dividend shows in them as the price drop it is; it does lower the ex-date's reference price.

The default calendar gives every stock a few actions a year from its second year of listing,
drawn from the market seed, and none after ``CALENDAR_END``: every fact pinned on 2026 bars
holds on one basis in every source.  An added action goes ex on the first session on or after
its ``ex_date`` (``"today"`` is the simulator's date); one that goes ex after ``CALENDAR_END``
lowers the raw prices from its ex-date on and leaves the raw history before it as it was.

Control call (see server.py): ``POST /_sim/corporate-actions`` with one object or a list, e.g.
``{"symbol": "VCB", "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}`` or
``{"symbol": "VCB", "kind": "cash_dividend", "amount": 1.5, "ex_date": "2026-02-13"}``;
``GET /_sim/corporate-actions?symbol=VCB`` lists that symbol's calendar (default and added, as
in effect); ``DELETE /_sim/corporate-actions`` (optionally ``?symbol=``) drops the added ones.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

ADJUSTING = ("stock_dividend", "bonus", "split")
KINDS = (*ADJUSTING, "cash_dividend")
CALENDAR_END = date(2025, 12, 31)
# Expected actions a year: (kind, on an active name, on another).  Active names are the real
# tickers and about a third of the rest.
RATES = (("cash_dividend", 0.8, 0.35), ("stock_dividend", 0.3, 0.1), ("bonus", 0.12, 0.04), ("split", 0.03, 0.01))
STOCK_DIVIDEND_RATIOS = (0.05, 0.1, 0.15, 0.2, 0.3)
BONUS_RATIOS = (0.1, 0.2, 0.25, 0.5)
SPLIT_RATIOS = (2.0, 3.0)
# A default cash dividend as a fraction of the close before it: what sets its amount.
CASH_YIELDS = (0.01, 0.015, 0.02, 0.03, 0.04)


def seed_of(*parts: object) -> int:
    """The market's one way to derive a stream's seed."""
    return zlib.crc32("|".join(str(p) for p in parts).encode())


@dataclass(frozen=True)
class CorporateAction:
    symbol: str
    kind: str
    ex_date: date
    ratio: float | None = None
    amount: float | None = None  # cash, thousands of VND per share (None: a default one, set by `cash_yield`)
    cash_yield: float | None = None
    origin: str = "calendar"  # or "added"

    @property
    def factor(self) -> float:
        """What an adjusted series multiplies the bars before the ex-date by."""
        if self.kind in ("stock_dividend", "bonus"):
            return 1.0 / (1.0 + float(self.ratio or 0.0))
        if self.kind == "split":
            return 1.0 / float(self.ratio or 1.0)
        return 1.0

    @classmethod
    def parse(cls, raw: dict[str, Any], today: date) -> CorporateAction:
        """An action from the control call's JSON; raises ValueError on anything it does not define."""
        unknown = set(raw) - {"symbol", "kind", "ratio", "amount", "ex_date"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        kind = str(raw["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {list(KINDS)}")
        ex = str(raw.get("ex_date", "today"))
        ex_date = today if ex == "today" else date.fromisoformat(ex)
        if kind == "cash_dividend":
            amount = float(raw["amount"])
            if not amount > 0:
                raise ValueError("a cash dividend needs amount > 0 (thousands of VND per share)")
            return cls(str(raw["symbol"]), kind, ex_date, amount=amount, origin="added")
        ratio = float(raw["ratio"])
        if not ratio > 0 or (kind == "split" and ratio == 1):
            raise ValueError(f"{kind} needs ratio > 0 (and a split one other than 1)")
        return cls(str(raw["symbol"]), kind, ex_date, ratio=ratio, origin="added")

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "kind": self.kind, "ex_date": self.ex_date.isoformat(), "ratio": self.ratio,
            "amount": self.amount, "factor": self.factor, "origin": self.origin,
        }  # fmt: skip


def default_calendar(seed: int, symbol: str, listed: date, active: bool) -> tuple[CorporateAction, ...]:
    """The seeded actions of one stock, by ex-date, at most one a day; ex-dates may fall on closed days."""
    rng = np.random.default_rng(seed_of(seed, symbol, "actions"))
    first, end = listed + timedelta(days=365), CALENDAR_END
    if first > end:
        return ()
    span = (end - first).days + 1
    out: dict[date, CorporateAction] = {}
    for kind, on_active, on_other in RATES:
        rate = (on_active if active else on_other) * span / 365.25
        for offset in sorted(rng.integers(0, span, rng.poisson(rate)).tolist()):
            ex = first + timedelta(days=int(offset))
            if kind == "cash_dividend":
                action = CorporateAction(symbol, kind, ex, cash_yield=float(rng.choice(CASH_YIELDS)))
            else:
                choices = {"stock_dividend": STOCK_DIVIDEND_RATIOS, "bonus": BONUS_RATIOS, "split": SPLIT_RATIOS}
                action = CorporateAction(symbol, kind, ex, ratio=float(rng.choice(choices[kind])))
            out.setdefault(ex, action)
    return tuple(out[d] for d in sorted(out))


@dataclass
class ActionBook:
    """The actions tests added, by symbol; `version` changes with every change."""

    added: dict[str, list[CorporateAction]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, action: CorporateAction) -> None:
        with self.lock:
            self.added.setdefault(action.symbol, []).append(action)

    def clear(self, symbol: str | None = None) -> int:
        with self.lock:
            if symbol is None:
                dropped = sum(len(v) for v in self.added.values())
                self.added.clear()
                return dropped
            return len(self.added.pop(symbol, []))

    def all(self) -> list[CorporateAction]:
        with self.lock:
            return [a for actions in self.added.values() for a in actions]

    def of(self, symbol: str) -> tuple[CorporateAction, ...]:
        with self.lock:
            return tuple(self.added.get(symbol, ()))
