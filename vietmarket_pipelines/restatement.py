"""Restatements: a provider sending bars this platform already stored back on a new adjustment basis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from vietmarket_core.market import INDEX_TICKERS, Timeframe, bar_label, trading_date_of
from vietmarket_pipelines.bars import PRICE_COLUMNS, BarSeries
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.prices import HALF_SMALLEST_TICK

DetectedBy = Literal["overlap", "anchor"]

# One bar rescaled by itself is a revision that happens to be proportional; a restatement moves
# every earlier bar, so it needs at least this many bars that each exclude ratio 1.
MIN_SUPPORTING_BARS = 2
# Float noise in the ratio bounds, far below any rounding bound (a 1-tick move on a 10,000-thousand
# VND price is 5e-7).
FLOAT_NOISE = 1e-9
# Bars listed in `Restatement.evidence`; the count of all compared bars is always there.
EVIDENCE_BARS = 12


@dataclass(frozen=True)
class StoredBars:
    """Stored bars of one series, ascending by ts (unix ms, as candles.ts), prices as stored."""

    ts: npt.NDArray[np.int64]
    o: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    l: npt.NDArray[np.float64]  # noqa: E741 - the market's own letter for the low
    c: npt.NDArray[np.float64]

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> StoredBars:
        """From a frame with ts, o, h, l, c columns (CandleStore.read_series returns one)."""
        return cls(
            ts=frame["ts"].to_numpy(dtype=np.int64),
            **{k: frame[k].to_numpy(dtype=np.float64) for k in PRICE_COLUMNS},
        )

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True)
class Restatement:
    """The provider rescaled stored history of one series by one factor.

    `factor` is the provider's new price / the stored price of the bars before the ex-date (< 1
    after a split, stock dividend or bonus issue).  `estimated_ex_date` is an Asia/Ho_Chi_Minh
    trading date, or None when the comparison cannot place it (see `compare_with_stored`).
    `evidence` is JSON-ready: the compared bars, their stored and fetched closes, the tolerance.
    """

    ticker: str
    tf: Timeframe
    source: str
    factor: float
    estimated_ex_date: date | None
    detected_by: DetectedBy
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ReplacementSeries:
    """A restated series: the provider's whole history on its current basis, which replaces every
    stored bar of the series (`PartitionWriter.replace`)."""

    series: BarSeries
    restatement: Restatement


@dataclass(frozen=True)
class _Compared:
    """The bars stored and fetched at the same ts, and the ratio range each bar allows."""

    ts: npt.NDArray[np.int64]
    stored_c: npt.NDArray[np.float64]
    fetched_c: npt.NDArray[np.float64]
    stored_sum: npt.NDArray[np.float64]
    fetched_sum: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]

    @property
    def excludes_one(self) -> npt.NDArray[np.bool_]:
        """Bars that differ beyond rounding: no single ratio 1 explains their o, h, l and c."""
        return (self.low > 1 + FLOAT_NOISE) | (self.high < 1 - FLOAT_NOISE)


def _matching(
    stored: StoredBars, fetched_ts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices into the stored and the fetched bars of the ts both have (both ascending)."""
    at = np.searchsorted(fetched_ts, stored.ts)
    inside = at < len(fetched_ts)
    hit = np.zeros(len(stored.ts), dtype=bool)
    hit[inside] = fetched_ts[at[inside]] == stored.ts[inside]
    return np.flatnonzero(hit), at[hit]


def _compare(
    stored: StoredBars,
    fetched: dict[str, npt.NDArray[np.float64]],
    i_s: npt.NDArray[np.intp],
    i_f: npt.NDArray[np.intp],
    half_tick: float,
) -> _Compared:
    common = stored.ts[i_s]
    low = np.zeros(len(common))
    high = np.full(len(common), np.inf)
    stored_sum, fetched_sum = np.zeros(len(common)), np.zeros(len(common))
    for k in PRICE_COLUMNS:
        s = getattr(stored, k)[i_s]
        new = fetched[k][i_f]
        # Each price is the true one rounded to the tick, so the true ratio new / stored lies in
        # [(new - half) / (s + half), (new + half) / (s - half)]; one bar allows the ratios that
        # all four of its prices allow.
        low = np.maximum(low, (new - half_tick) / (s + half_tick))
        with np.errstate(divide="ignore"):
            high = np.minimum(high, np.where(s > half_tick, (new + half_tick) / np.maximum(s - half_tick, 0), np.inf))
        stored_sum, fetched_sum = stored_sum + s, fetched_sum + new
    return _Compared(
        ts=common,
        stored_c=stored.c[i_s],
        fetched_c=fetched["c"][i_f],
        stored_sum=stored_sum,
        fetched_sum=fetched_sum,
        low=low,
        high=high,
    )


def _restated_prefix(cmp: _Compared) -> int:
    """How many of the oldest compared bars share one ratio other than 1 (0: none do).

    The bars before an ex-date come first.  Over a growing prefix the common ratio range only
    shrinks: once it excludes 1 it stays so, once it is empty it stays so; the longest prefix
    whose range is non-empty and excludes 1 is the old-basis run.  A bar too cheap for its
    rounding to tell r from 1 joins the run without counting as support.
    """
    lo, hi = np.maximum.accumulate(cmp.low), np.minimum.accumulate(cmp.high)
    valid = (lo <= hi + FLOAT_NOISE) & ((lo > 1 + FLOAT_NOISE) | (hi < 1 - FLOAT_NOISE))
    if not valid.any():
        return 0
    return int(np.flatnonzero(valid)[-1]) + 1


def _next_trading_date(after_ts: int, fetched: BarSeries) -> date:
    """The first trading date after the bar at `after_ts`: the provider's next bar's date when it
    sent one, else the rule-based calendar's next trading day."""
    tf = fetched.tf
    day = trading_date_of(after_ts, tf)
    for ts in fetched.frame["ts"].to_numpy(dtype=np.int64):
        if ts > after_ts and (d := trading_date_of(int(ts), tf)) > day:
            return d
    calendar, d = TradingCalendar(), day + timedelta(days=1)
    while not calendar.rule_says_trading(d):
        d += timedelta(days=1)
    return d


def _evidence(cmp: _Compared, run: int, half_tick: float, fetched: BarSeries) -> dict[str, Any]:
    listed = list(range(min(run, EVIDENCE_BARS - 1))) + ([run] if run < len(cmp.ts) else [])
    return {
        "compared_bars": len(cmp.ts),
        "restated_bars": run,
        "tolerance_half_tick": half_tick,
        "ratio_range": [float(np.max(cmp.low[:run])), float(np.min(cmp.high[:run]))],
        "bars": [
            {
                "ts": int(cmp.ts[i]),
                "bar": bar_label(int(cmp.ts[i]), fetched.tf),
                "stored_close": float(cmp.stored_c[i]),
                "fetched_close": float(cmp.fetched_c[i]),
                "restated": i < run,
            }
            for i in listed
        ],
    }


def compare_with_stored(
    stored: StoredBars,
    fetched: BarSeries,
    *,
    detected_by: DetectedBy = "overlap",
    half_tick: float = HALF_SMALLEST_TICK,
) -> Restatement | None:
    """The restatement the fetched bars show against the stored bars at the same ts, or None.

    Rescaled means: the oldest compared bars (the ones before a possible ex-date) all agree on
    one ratio r = fetched / stored over o, h, l and c, r is not 1 beyond each price's rounding to
    the tick (`half_tick`, thousands of VND), and at least MIN_SUPPORTING_BARS of them exclude 1
    on their own.  Anything else is a revision: a lone changed bar, bars that changed by
    different ratios, or an older bar unchanged before a changed one.  Indices are never
    adjusted, so never restated.

    `estimated_ex_date`: when the compared bars straddle the ex-date (r before, then not r), the
    trading date of the first compared bar not on r, usually the first at ratio 1; the ex-date
    lies after the last r bar and on or before it.  When every compared bar is on r, the ex-date
    is after the newest of them: for an overlap, which reaches the newest stored bar, that is the
    first trading date after it (the earliest it can be: the provider's next bar, else the
    calendar's next trading day); an anchor comparison cannot place it (None).
    """
    if fetched.ticker in INDEX_TICKERS or not len(stored) or not len(fetched):
        return None
    f = fetched.frame
    i_s, i_f = _matching(stored, f["ts"].to_numpy(dtype=np.int64))
    prices = {k: f[k].to_numpy(dtype=np.float64) for k in PRICE_COLUMNS}
    # Nearly every series of a tick sends its overlap back unchanged: settle that first.
    if all(np.array_equal(getattr(stored, k)[i_s], prices[k][i_f]) for k in PRICE_COLUMNS):
        return None
    cmp = _compare(stored, prices, i_s, i_f, half_tick)
    run = _restated_prefix(cmp)
    if int(cmp.excludes_one[:run].sum()) < MIN_SUPPORTING_BARS:
        return None
    # The ratio of sums over every price of the run averages the rounding out.
    factor = float(cmp.fetched_sum[:run].sum() / cmp.stored_sum[:run].sum())
    ex_date: date | None
    if run < len(cmp.ts):
        ex_date = trading_date_of(int(cmp.ts[run]), fetched.tf)
    elif detected_by == "overlap":
        ex_date = _next_trading_date(int(cmp.ts[run - 1]), fetched)
    else:
        ex_date = None
    return Restatement(
        ticker=fetched.ticker,
        tf=fetched.tf,
        source=fetched.source,
        factor=factor,
        estimated_ex_date=ex_date,
        detected_by=detected_by,
        evidence=_evidence(cmp, run, half_tick, fetched),
    )
