"""The simulated market: ~1,600 listed tickers and indices with deterministic daily and minute bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.simulator import rules, series
from vietmarket_pipelines.simulator.actions import ActionBook, CorporateAction, default_calendar, seed_of

Bars = dict[str, npt.NDArray[Any]]
# What VCI and SSI serve (adjusted as of the simulator's today) or what traded (VNDirect dchart).
View = Literal["adjusted", "raw"]

FIRST_SESSION = date(2000, 7, 28)  # HOSE's first trading day
# Lunar New Year before 2018, where vn-market-calendar has no data: the simulated market closes
# on the weekdays from the eve to the third day, like the real one did.  The rule-based calendar
# does not know these; the VNINDEX cross-check must find them.
TET_BEFORE_2018 = {
    2001: date(2001, 1, 24), 2002: date(2002, 2, 12), 2003: date(2003, 2, 1), 2004: date(2004, 1, 22),
    2005: date(2005, 2, 9), 2006: date(2006, 1, 29), 2007: date(2007, 2, 18), 2008: date(2008, 2, 7),
    2009: date(2009, 1, 26), 2010: date(2010, 2, 14), 2011: date(2011, 2, 3), 2012: date(2012, 1, 23),
    2013: date(2013, 2, 10), 2014: date(2014, 1, 31), 2015: date(2015, 2, 19), 2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
}  # fmt: skip

REAL_TICKERS = {
    "HOSE": "VCB FPT HPG VNM MWG VIC VHM TCB MBB ACB SSI VPB GAS MSN CTG BID VJC PLX POW SAB GVR STB HDB TPB VRE",
    "HNX": "SHS PVS CEO IDC VCS MBS HUT NVB PVI TNG",
    "UPCOM": "ACV BSR VEA QNS MCH VGI OIL FOX MSR LTG",
}
STOCK_COUNTS = {"HOSE": 390, "HNX": 310, "UPCOM": 890}
INDEX_LEVELS = {
    "VNINDEX": ("HOSE", 1250.0),
    "VN30": ("HOSE", 1300.0),
    "HNXINDEX": ("HNX", 230.0),
    "UPCOMINDEX": ("UPCOM", 95.0),
}
NAME_WORDS = (
    "Đầu tư", "Phát triển", "Xây dựng", "Thương mại", "Dịch vụ", "Sản xuất", "Năng lượng", "Công nghệ",
    "Bất động sản", "Thủy sản", "Dược phẩm", "Vận tải", "Khoáng sản", "Điện lực", "Nhựa", "Thép",
    "Cao su", "Xi măng", "Chứng khoán",
)  # fmt: skip
# The minutes each exchange's feed prints (minute of the ICT day), as VCI shows them: auctions
# print once, at their end (calendar.EXCHANGE_BAR_OPENS says what that does to each grid).
# HOSE: the ATO match at 09:15, continuous to 11:29 and 13:00-14:29, the ATC match at 14:45.
# HNX: continuous from 09:00, the ATC match at 14:45, then post-close trades at that price to 14:59.
# UPCOM: continuous 09:00-11:29 and 13:00-14:59.
SESSION_MINUTES: dict[str, npt.NDArray[np.int64]] = {
    "HOSE": np.concatenate([np.arange(9 * 60 + 15, 11 * 60 + 30), np.arange(13 * 60, 14 * 60 + 30), [14 * 60 + 45]]),
    "HNX": np.concatenate(
        [np.arange(9 * 60, 11 * 60 + 30), np.arange(13 * 60, 14 * 60 + 30), np.arange(14 * 60 + 45, 15 * 60)]
    ),
    "UPCOM": np.concatenate([np.arange(9 * 60, 11 * 60 + 30), np.arange(13 * 60, 15 * 60)]),
}  # fmt: skip
# After the closing auction's print, HNX's post-close session trades at the closing price only.
POST_CLOSE_FROM = {"HNX": 14 * 60 + 46}


@dataclass(frozen=True)
class SimTicker:
    symbol: str
    exchange: str
    board: str  # VCI's board: HSX, HNX, UPCOM, DELISTED
    kind: str  # VCI's type: STOCK, CW, ETF, FU, BOND, or INDEX
    name: str
    listed: date
    base_price: float  # thousands of VND, or points


# What the listing also carries and the universe must filter out: (kind, board, count).
NON_STOCK_LISTINGS = (("CW", "HSX", 40), ("ETF", "HSX", 10), ("FU", "HNX", 6), ("BOND", "BOND", 5))
SYMBOL_LETTERS = np.array(list("ABCDEFGHIKLMNOPQRSTUVXY"))


class _Universe:
    """The listed symbols as they are drawn: every draw comes from one stream, so their order is the seed's."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.taken: dict[str, SimTicker] = {}
        self.reserved = {s for names in REAL_TICKERS.values() for s in names.split()}

    def new_symbol(self) -> str:
        while True:
            symbol = "".join(self.rng.choice(SYMBOL_LETTERS, 3))
            if symbol not in self.taken and symbol not in INDEX_LEVELS and symbol not in self.reserved:
                return symbol

    def add(self, symbol: str, exchange: str, board: str, kind: str) -> None:
        rng = self.rng
        span = (date(2025, 6, 30) - FIRST_SESSION).days
        listed = FIRST_SESSION + timedelta(days=int(rng.integers(0, span)))
        if symbol in REAL_TICKERS.get(exchange, "").split():
            listed = FIRST_SESSION + timedelta(days=int(rng.integers(0, 3000)))
        words = rng.choice(NAME_WORDS, 2, replace=False)
        name = f"Công ty Cổ phần {words[0]} {words[1]} {symbol}"
        self.taken[symbol] = SimTicker(symbol, exchange, board, kind, name, listed, float(rng.uniform(5, 120)))

    def add_new(self, count: int, exchange: str, board: str, kind: str) -> None:
        for _ in range(count):
            self.add(self.new_symbol(), exchange, board, kind)


@dataclass(frozen=True)
class CalendarOverrides:
    """Where the simulated market departs from the rule-based calendar besides the pre-2018 Tết
    closures: weekdays it closed although the rules say open (an unannounced bridge day), and rule
    holidays on which it traded.  A startup option (`--closed`, `--opened`), so that every series
    of the run agrees with it."""

    closed: frozenset[date] = frozenset()
    opened: frozenset[date] = frozenset()


class SimulatedMarket:
    def __init__(
        self,
        seed: int = 7,
        now: datetime | None = None,
        actions: ActionBook | None = None,
        calendar_overrides: CalendarOverrides | None = None,
    ) -> None:
        self.seed = seed
        self._fixed_now = now
        self.actions = actions or ActionBook()
        self.overrides = calendar_overrides or CalendarOverrides()

    def now(self) -> datetime:
        return self._fixed_now or datetime.now(UTC)

    # ---------------------------------------------------------------- calendar
    @cached_property
    def _closures(self) -> frozenset[date]:
        days = set()
        for eve in TET_BEFORE_2018.values():
            for offset in range(-1, 4):
                days.add(eve + timedelta(days=offset))
        return frozenset(days)

    def is_session(self, d: date) -> bool:
        if d < FIRST_SESSION or d in self.overrides.closed:
            return False
        if d in self.overrides.opened:
            return d.weekday() < 5
        return d not in self._closures and TradingCalendar().rule_says_trading(d)

    @lru_cache(maxsize=4)  # noqa: B019 - one market per process; the cache lives as long as it does
    def sessions_until(self, today: date) -> tuple[date, ...]:
        days, d = [], FIRST_SESSION
        while d <= today:
            if self.is_session(d):
                days.append(d)
            d += timedelta(days=1)
        return tuple(days)

    @lru_cache(maxsize=4)  # noqa: B019
    def session_ordinals(self, today: date) -> npt.NDArray[np.int64]:
        """sessions_until(today) as date ordinals: what every series slices from its listing on."""
        return np.array([d.toordinal() for d in self.sessions_until(today)], dtype=np.int64)

    # ---------------------------------------------------------------- universe
    @cached_property
    def tickers(self) -> dict[str, SimTicker]:
        universe = _Universe(np.random.default_rng(self.seed))
        for exchange, count in STOCK_COUNTS.items():
            board = "HSX" if exchange == "HOSE" else exchange
            real = REAL_TICKERS[exchange].split()
            for symbol in real:
                universe.add(symbol, exchange, board, "STOCK")
            universe.add_new(count - len(real), exchange, board, "STOCK")
        for kind, board, count in NON_STOCK_LISTINGS:
            universe.add_new(count, "HOSE", board, kind)
        universe.add_new(20, "HOSE", "DELISTED", "STOCK")
        for symbol, (exchange, level) in INDEX_LEVELS.items():
            universe.taken[symbol] = SimTicker(symbol, exchange, exchange, "INDEX", symbol, FIRST_SESSION, level)
        return universe.taken

    def listed_stocks(self) -> list[SimTicker]:
        return [t for t in self.tickers.values() if t.kind == "STOCK" and t.board != "DELISTED"]

    # ---------------------------------------------------------------- corporate actions
    def is_active(self, symbol: str) -> bool:
        """The real tickers and about a third of the others: the names with the most corporate actions."""
        ticker = self.tickers[symbol]
        return symbol in REAL_TICKERS.get(ticker.exchange, "").split() or seed_of(self.seed, symbol, "active") % 3 == 0

    @lru_cache(maxsize=4096)  # noqa: B019
    def default_actions(self, symbol: str) -> tuple[CorporateAction, ...]:
        ticker = self.tickers[symbol]
        if ticker.kind != "STOCK":
            return ()
        return default_calendar(self.seed, symbol, ticker.listed, self.is_active(symbol))

    def calendar(self, symbol: str) -> tuple[CorporateAction, ...]:
        """Every action of `symbol`, default and added, by ex-date (an added one after a default one on a tie)."""
        return tuple(sorted(self.default_actions(symbol) + self.actions.of(symbol), key=lambda a: a.ex_date))

    def actions_in_effect(self, symbol: str, today: date) -> list[dict[str, Any]]:
        """The calendar as the series apply it: the session each action went ex on, its cash amount, its factor."""
        prices = self.prices(symbol, today)
        days = np.asarray(prices["day"])
        out = []
        for action in self.calendar(symbol):
            row = action.to_json()
            i = int(np.searchsorted(days, action.ex_date.toordinal(), "left"))
            row["ex_session"] = date.fromordinal(int(days[i])).isoformat() if i < len(days) else None
            if action.kind == "cash_dividend" and action.amount is None and i < len(days):
                row["amount"] = float(prices["cash"][i])
            out.append(row)
        return out

    # ---------------------------------------------------------------- bars
    def daily(self, symbol: str, today: date, view: View = "adjusted") -> Bars:
        """Daily bars up to `today`: dates as ordinal days, prices in thousands of VND (or points).

        "adjusted" is VCI's and SSI's series as of `today`; "raw" is what traded (VNDirect dchart),
        on the tick grid and within each day's band.  Volumes are the traded ones in both."""
        full = self.prices(symbol, today)
        prefix = "ad_" if view == "adjusted" else ""
        return {"day": full["day"], **{k: full[prefix + k] for k in "ohlc"}, "v": full["v"]}

    def prices(self, symbol: str, today: date) -> Bars:
        """finfo's view of every day: raw o/h/l/c/avg, ad_o/ad_h/ad_l/ad_c/ad_avg, ref, ceiling, floor, v,
        and `factor` (adjusted / raw)."""
        return self._prices(symbol, today, self.calendar(symbol))

    # A full series is ~0.7 MB: enough for a few batches of 50 tickers, not the whole market.
    @lru_cache(maxsize=192)  # noqa: B019
    def _prices(self, symbol: str, today: date, actions: tuple[CorporateAction, ...]) -> Bars:
        ticker = self.tickers[symbol]
        walk = self._walk(symbol, today)
        if ticker.kind == "INDEX":
            return series.index_series(walk)
        return series.build(walk, actions, ticker.exchange)

    @lru_cache(maxsize=64)  # noqa: B019
    def _walk(self, symbol: str, today: date) -> Bars:
        """The smooth walk the prices follow: the series adjusted as of the default calendar's end."""
        ticker = self.tickers[symbol]
        ordinals = self.session_ordinals(today)
        days = ordinals[ordinals >= ticker.listed.toordinal()]
        n = len(days)
        rng = np.random.default_rng(seed_of(self.seed, symbol, "daily"))
        is_index = ticker.kind == "INDEX"
        vol = 0.012 if is_index else 0.022
        returns = np.clip(rng.normal(0.0002, vol, n), -0.069, 0.069)
        close = ticker.base_price * np.exp(np.cumsum(returns))
        close = np.clip(close, ticker.base_price / 10, ticker.base_price * 8)
        gap = np.clip(rng.normal(0, vol / 3, n), -0.03, 0.03)
        open_ = np.concatenate([[ticker.base_price], close[:-1]]) * (1 + gap)
        spread_up = np.abs(rng.normal(0, vol / 2, n))
        spread_dn = np.abs(rng.normal(0, vol / 2, n))
        high = np.maximum(open_, close) * (1 + spread_up)
        low = np.minimum(open_, close) * (1 - spread_dn)
        if is_index:
            o, c = np.round(open_, 2), np.round(close, 2)
            h = np.maximum(np.round(high, 2), np.maximum(o, c))
            low_ = np.minimum(np.round(low, 2), np.minimum(o, c))
            volume = np.round(rng.lognormal(19, 0.3, n))
        else:
            # Stocks trade on a 10 VND tick; stored in thousands that is 0.01.
            o, c = np.round(open_, 2), np.round(close, 2)
            h = np.maximum(np.ceil(high * 100) / 100, np.maximum(o, c))
            low_ = np.minimum(np.floor(low * 100) / 100, np.minimum(o, c))
            volume = np.round(rng.lognormal(12, 1.2, n) / 100) * 100
        return {
            "day": days,
            "o": o, "h": h, "l": low_, "c": c, "v": volume,
        }  # fmt: skip

    def minutes(self, symbol: str, days: list[date], today: date, view: View = "adjusted") -> Bars:
        """One-minute bars of the given sessions, consistent with the daily bars of the same view: the
        first minute opens at the daily open, the last closes at the daily close, and the minutes'
        extremes are the daily high and low.  `t` is the bar open in unix seconds.  Raw minutes
        trade on the tick grid; adjusted ones are them times the day's factor."""
        raw = self._raw_minutes(symbol, days, today)
        if view == "raw" or not len(raw["t"]):
            return raw
        full = self.prices(symbol, today)
        if np.all(full["factor"] == 1.0):
            return raw
        index = {int(d): i for i, d in enumerate(full["day"])}
        factor = np.asarray(full["factor"])[[index[d.toordinal()] for d in days if d.toordinal() in index]]
        per_minute = np.repeat(factor, len(self.session_minutes(symbol)))
        return {**raw, **{k: np.round(np.asarray(raw[k]) * per_minute, 2) for k in "ohlc"}}

    def session_minutes(self, symbol: str) -> npt.NDArray[np.int64]:
        """The minutes of the ICT day `symbol`'s feed prints in; an index prints when its exchange does."""
        return SESSION_MINUTES[self.tickers[symbol].exchange]

    def _raw_minutes(self, symbol: str, days: list[date], today: date) -> Bars:
        daily = self.daily(symbol, today, "raw")
        exchange = self.tickers[symbol].exchange if self.tickers[symbol].kind != "INDEX" else None
        minutes = self.session_minutes(symbol)
        # The minutes that can move the price: every one up to the last auction's print.
        moving = int(np.searchsorted(minutes, POST_CLOSE_FROM.get(self.tickers[symbol].exchange, 24 * 60)))
        index = {int(d): i for i, d in enumerate(daily["day"])}
        rows = [index[d.toordinal()] for d in days if d.toordinal() in index]
        if not rows:
            return {k: np.array([], dtype=np.int64 if k == "t" else np.float64) for k in ("t", "o", "h", "l", "c", "v")}
        sel = np.array(rows)
        o, h, lo, c, v = (np.asarray(daily[k], dtype=np.float64)[sel] for k in ("o", "h", "l", "c", "v"))
        n_days, m = len(sel), len(minutes)
        # Each session's minutes depend only on (ticker, date): any window asks for the same bars.
        walk = np.empty((n_days, m))
        weights = np.empty((n_days, m))
        hi_at = np.empty(n_days, dtype=np.int64)
        lo_at = np.empty(n_days, dtype=np.int64)
        for row, i in enumerate(sel):
            day_rng = np.random.default_rng(seed_of(self.seed, symbol, "minutes", int(daily["day"][i])))
            walk[row] = np.cumsum(day_rng.normal(0, 1, m))
            weights[row] = day_rng.gamma(1.0, 1.0, m)
            hi_at[row] = day_rng.integers(1, moving - 1)
            lo_at[row] = (hi_at[row] + day_rng.integers(1, moving - 2)) % (moving - 1)
        steps = np.arange(1, m + 1) / m
        bridge = walk - steps * walk[:, -1:]
        scale = (h - lo)[:, None] / 3
        path = o[:, None] + (c - o)[:, None] * steps + scale * bridge / np.sqrt(m)
        path[:, -1] = c
        top, bottom = np.maximum(o, c)[:, None], np.minimum(o, c)[:, None]
        pmax = np.maximum(path.max(axis=1, keepdims=True), top)
        pmin = np.minimum(path.min(axis=1, keepdims=True), bottom)
        above = path > top
        below = path < bottom
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(pmax > top, (h[:, None] - top) / (pmax - top), 0.0)
            down = np.where(pmin < bottom, (bottom - lo[:, None]) / (bottom - pmin), 0.0)
        path = np.where(above, top + (path - top) * up, path)
        path = np.where(below, bottom - (bottom - path) * down, path)
        # Make sure the day's extremes are printed somewhere in the session.
        path[np.arange(n_days), hi_at] = h
        path[np.arange(n_days), lo_at] = lo
        path[:, moving - 1 :] = c[:, None]
        path = np.round(path, 2) if exchange is None else rules.to_grid(path, exchange)
        opens = np.concatenate([o[:, None], path[:, :-1]], axis=1)
        highs = np.maximum(opens, path)
        lows = np.minimum(opens, path)
        weights /= weights.sum(axis=1, keepdims=True)
        volume = np.floor(weights * v[:, None])
        volume[:, -1] += v - volume.sum(axis=1)
        day_start = np.array(
            [
                int(
                    datetime.combine(
                        date.fromordinal(int(daily["day"][i])), datetime.min.time(), tzinfo=VN_TZ
                    ).timestamp()
                )
                for i in sel
            ],
            dtype=np.int64,
        )
        t = day_start[:, None] + minutes[None, :] * 60
        return {
            "t": t.ravel(), "o": opens.ravel(), "h": highs.ravel(), "l": lows.ravel(), "c": path.ravel(),
            "v": volume.ravel(),
        }  # fmt: skip

    def hourly(self, symbol: str, days: list[date], today: date, view: View = "adjusted") -> Bars:
        """Hourly bars from the minutes: 09, 10, 11 (to 11:30), 13 and 14 (to 15:00), each stamped
        with its hour's open even when its first print is later (HOSE's 09:15 opening match)."""
        mins = self.minutes(symbol, days, today, view)
        minutes = self.session_minutes(symbol)
        n_days = len(mins["t"]) // len(minutes)
        if not n_days:
            return mins
        shape = (n_days, len(minutes))
        cols = {k: np.asarray(mins[k]).reshape(shape) for k in ("t", "o", "h", "l", "c", "v")}
        out: dict[str, list[npt.NDArray[Any]]] = {k: [] for k in cols}
        for hour in (9, 10, 11, 13, 14):
            idx = np.flatnonzero(hour == minutes // 60)
            first = cols["t"][:, idx[0]]
            out["t"].append(first - first % 3600)
            out["o"].append(cols["o"][:, idx[0]])
            out["h"].append(cols["h"][:, idx].max(axis=1))
            out["l"].append(cols["l"][:, idx].min(axis=1))
            out["c"].append(cols["c"][:, idx[-1]])
            out["v"].append(cols["v"][:, idx].sum(axis=1))
        return {k: np.stack(v, axis=1).ravel() for k, v in out.items()}
