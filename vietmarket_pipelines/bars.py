"""Normalized OHLCV bars of one (ticker, timeframe) series and the strict rules every payload obeys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from vietmarket_core.market import BAR_MS, VN_TZ, Timeframe, daily_bar_ts, trading_date_of

BAR_COLUMNS = ("ts", "o", "h", "l", "c", "v")
PRICE_COLUMNS = ("o", "h", "l", "c")


class BarValidationError(ValueError):
    """A provider's payload broke a rule; nothing from it may be written."""

    def __init__(self, provider: str, ticker: str, tf: str, problem: str) -> None:
        self.provider, self.ticker, self.tf, self.problem = provider, ticker, tf, problem
        super().__init__(f"{provider} {ticker} {tf}: {problem}")


@dataclass(frozen=True)
class BarSeries:
    """Bars of one series in canonical form.

    `frame` has int64 `ts` (unix ms, see market.py for its meaning), float64 `o h l c` in
    thousands of VND for stocks and points for indices, float64 `v` in shares; ascending by ts.
    """

    source: str
    ticker: str
    tf: Timeframe
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def first_ts(self) -> int | None:
        return int(self.frame["ts"].iloc[0]) if len(self.frame) else None

    @property
    def last_ts(self) -> int | None:
        return int(self.frame["ts"].iloc[-1]) if len(self.frame) else None

    def between(self, start_ms: int | None, end_ms: int | None) -> BarSeries:
        ts = self.frame["ts"]
        mask = np.ones(len(ts), dtype=bool)
        if start_ms is not None:
            mask &= ts.to_numpy() >= start_ms
        if end_ms is not None:
            mask &= ts.to_numpy() <= end_ms
        return BarSeries(self.source, self.ticker, self.tf, self.frame.loc[mask].reset_index(drop=True))


def numeric_array(values: object, name: str, fail: BarValidationErrorFactory) -> npt.NDArray[np.float64]:
    if not isinstance(values, Sequence) or isinstance(values, str | bytes):
        raise fail(f"field '{name}' is {type(values).__name__}, not an array")
    arr = np.asarray(values)
    if len(arr) and arr.dtype.kind not in "iuf":
        bad = next((i for i, x in enumerate(values) if isinstance(x, bool) or not isinstance(x, int | float)), 0)
        raise fail(f"field '{name}' has a non-numeric value {values[bad]!r} at index {bad}")
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise fail(f"field '{name}' has {out[bad]} at index {bad}")
    return out


class BarValidationErrorFactory:
    def __init__(self, provider: str, ticker: str, tf: str) -> None:
        self.provider, self.ticker, self.tf = provider, ticker, tf

    def __call__(self, problem: str) -> BarValidationError:
        return BarValidationError(self.provider, self.ticker, self.tf, problem)


@dataclass(frozen=True)
class PayloadFormat:
    """How a provider's arrays differ from the canonical series: prices `price_divisor` times the
    canonical unit, bars on a finer `grid_ms` grid than the timeframe's (1-minute bars for 15m)."""

    price_divisor: float = 1.0
    grid_ms: int | None = None


def series_from_arrays(
    *,
    source: str,
    ticker: str,
    tf: Timeframe,
    arrays: dict[str, object],
    payload_format: PayloadFormat = PayloadFormat(),
) -> BarSeries:
    """Builds a validated BarSeries from a provider's parallel arrays.

    `arrays["t"]` holds unix seconds: for 1d any instant on the trading date in
    Asia/Ho_Chi_Minh, for intraday the true UTC instant of the bar's open.
    """
    fail = BarValidationErrorFactory(source, ticker, tf)
    missing = [k for k in ("t", "o", "h", "l", "c", "v") if k not in arrays]
    if missing:
        raise fail(f"payload lacks field(s) {', '.join(missing)}")
    lengths = {k: len(v) if isinstance(v, Sequence) else -1 for k, v in arrays.items() if k in "tohlcv"}
    if len(set(lengths.values())) != 1:
        raise fail(f"arrays of unequal length: {lengths}")

    t = numeric_array(arrays["t"], "t", fail)
    if len(t) and not np.array_equal(t, np.floor(t)):
        raise fail("field 't' has fractional seconds")
    seconds = t.astype(np.int64)
    if tf == "1d":
        # The trading date is the date in Vietnam; its bar is stamped 00:00 UTC of that date.
        local = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(VN_TZ)
        ts = local.tz_localize(None).normalize().as_unit("ms").asi8.astype(np.int64)
    else:
        ts = seconds * 1000
    frame = pd.DataFrame({"ts": ts})
    divisor = payload_format.price_divisor
    for name in PRICE_COLUMNS:
        values = numeric_array(arrays[name], name, fail)
        frame[name] = np.round(values / divisor, 2) if divisor != 1.0 else values
    frame["v"] = numeric_array(arrays["v"], "v", fail)
    series = BarSeries(source, ticker, tf, frame)
    validate(series, grid_ms=payload_format.grid_ms)
    return series


@dataclass(frozen=True)
class _Checked:
    """One series' columns under validation, and what its rules compare them with."""

    tf: Timeframe
    ts: npt.NDArray[np.int64]
    o: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    c: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    spacing: int
    now: datetime

    def at(self, i: int) -> str:
        ts = int(self.ts[i])
        return f"bar ts={ts} ({datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat()})"


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _finite(b: _Checked) -> str | None:
    for name, arr in (("o", b.o), ("h", b.h), ("l", b.low), ("c", b.c), ("v", b.v)):
        if (i := _first(~np.isfinite(arr))) is not None:
            return f"{b.at(i)} has a non-finite {name}"
    return None


def _high_above_low(b: _Checked) -> str | None:
    i = _first(b.h < b.low)
    return None if i is None else f"{b.at(i)} has h {b.h[i]} < l {b.low[i]}"


def _open_close_in_range(b: _Checked) -> str | None:
    for name, arr in (("o", b.o), ("c", b.c)):
        if (i := _first((arr < b.low) | (arr > b.h))) is not None:
            return f"{b.at(i)} has {name} {arr[i]} outside [l {b.low[i]}, h {b.h[i]}]"
    return None


def _volume_not_negative(b: _Checked) -> str | None:
    i = _first(b.v < 0)
    return None if i is None else f"{b.at(i)} has negative volume {b.v[i]}"


def _strictly_ascending(b: _Checked) -> str | None:
    if (i := _first(np.diff(b.ts) <= 0)) is None:
        return None
    ts = b.ts
    kind = "duplicated" if ts[i + 1] == ts[i] else "out of order"
    return f"{b.at(i + 1)} is {kind} (previous ts={int(ts[i])})"


def _on_grid(b: _Checked) -> str | None:
    i = _first(b.ts % b.spacing != 0)
    return None if i is None else f"{b.at(i)} is not a multiple of {b.spacing} ms"


def _not_in_future(b: _Checked) -> str | None:
    if b.tf == "1d":
        today = daily_bar_ts(b.now.astimezone(VN_TZ).date())
        i = _first(b.ts > today)
        return None if i is None else f"{b.at(i)} is in the future (trading date {trading_date_of(int(b.ts[i]), '1d')})"
    i = _first(b.ts > int(b.now.timestamp() * 1000))
    return None if i is None else f"{b.at(i)} opens in the future"


# In this order: the first broken rule is the one reported.
_RULES = (
    _finite,
    _high_above_low,
    _open_close_in_range,
    _volume_not_negative,
    _strictly_ascending,
    _on_grid,
    _not_in_future,
)


def validate(series: BarSeries, now: datetime | None = None, grid_ms: int | None = None) -> None:
    """Raises BarValidationError on the first broken rule; returns quietly for a sound series.

    `grid_ms` overrides the timeframe's spacing, for source bars finer than the series (1-minute).
    """
    f = series.frame
    if not len(f):
        return
    checked = _Checked(
        tf=series.tf,
        ts=f["ts"].to_numpy(),
        o=f["o"].to_numpy(),
        h=f["h"].to_numpy(),
        low=f["l"].to_numpy(),
        c=f["c"].to_numpy(),
        v=f["v"].to_numpy(),
        spacing=grid_ms or BAR_MS[series.tf],
        now=now or datetime.now(UTC),
    )
    for rule in _RULES:
        if (problem := rule(checked)) is not None:
            raise BarValidationErrorFactory(series.source, series.ticker, series.tf)(problem)
