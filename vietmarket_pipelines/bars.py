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


def series_from_arrays(
    *,
    source: str,
    ticker: str,
    tf: Timeframe,
    arrays: dict[str, object],
    price_divisor: float = 1.0,
    now: datetime | None = None,
    grid_ms: int | None = None,
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
    for name in PRICE_COLUMNS:
        values = numeric_array(arrays[name], name, fail)
        frame[name] = np.round(values / price_divisor, 2) if price_divisor != 1.0 else values
    frame["v"] = numeric_array(arrays["v"], "v", fail)
    series = BarSeries(source, ticker, tf, frame)
    validate(series, now=now, grid_ms=grid_ms)
    return series


def validate(series: BarSeries, now: datetime | None = None, grid_ms: int | None = None) -> None:
    """Raises BarValidationError on the first broken rule; returns quietly for a sound series.

    `grid_ms` overrides the timeframe's spacing, for source bars finer than the series (1-minute).
    """
    fail = BarValidationErrorFactory(series.source, series.ticker, series.tf)
    f = series.frame
    if not len(f):
        return
    ts = f["ts"].to_numpy()
    o, h, low, c, v = (f[k].to_numpy() for k in ("o", "h", "l", "c", "v"))

    def first(mask: npt.NDArray[np.bool_]) -> int:
        return int(np.flatnonzero(mask)[0])

    def at(i: int) -> str:
        return f"bar ts={int(ts[i])} ({datetime.fromtimestamp(int(ts[i]) / 1000, tz=UTC).isoformat()})"

    for name, arr in (("o", o), ("h", h), ("l", low), ("c", c), ("v", v)):
        if not np.isfinite(arr).all():
            raise fail(f"{at(first(~np.isfinite(arr)))} has a non-finite {name}")
    if (bad := h < low).any():
        i = first(bad)
        raise fail(f"{at(i)} has h {h[i]} < l {low[i]}")
    for name, arr in (("o", o), ("c", c)):
        if (bad := (arr < low) | (arr > h)).any():
            i = first(bad)
            raise fail(f"{at(i)} has {name} {arr[i]} outside [l {low[i]}, h {h[i]}]")
    if (bad := v < 0).any():
        i = first(bad)
        raise fail(f"{at(i)} has negative volume {v[i]}")
    if (bad := np.diff(ts) <= 0).any():
        i = first(bad) + 1
        kind = "duplicated" if ts[i] == ts[i - 1] else "out of order"
        raise fail(f"{at(i)} is {kind} (previous ts={int(ts[i - 1])})")
    spacing = grid_ms or BAR_MS[series.tf]
    if (bad := ts % spacing != 0).any():
        raise fail(f"{at(first(bad))} is not a multiple of {spacing} ms")
    now = now or datetime.now(UTC)
    if series.tf == "1d":
        today = daily_bar_ts(now.astimezone(VN_TZ).date())
        if (bad := ts > today).any():
            i = first(bad)
            raise fail(f"{at(i)} is in the future (trading date {trading_date_of(int(ts[i]), '1d')})")
    elif (bad := ts > int(now.timestamp() * 1000)).any():
        raise fail(f"{at(first(bad))} opens in the future")
