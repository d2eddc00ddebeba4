"""VCI (Vietcap) gap-chart candles, the default source; 15m is built from its 1-minute bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from vietmarket_core.market import VN_TZ, Timeframe
from vietmarket_pipelines.bars import BarSeries, BarValidationError, PayloadFormat, series_from_arrays, validate
from vietmarket_pipelines.calendar import AFTERNOON, MORNING, TradingCalendar
from vietmarket_pipelines.providers.base import FetchResult, check_units, is_index
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError
from vietmarket_pipelines.providers.pacing import Pacer

HISTORY_PATH = "/api/chart/OHLCChart/gap-chart"
WEB_ORIGIN = "https://trading.vietcap.com.vn/"
TIME_FRAMES: dict[Timeframe, str] = {"1d": "ONE_DAY", "1h": "ONE_HOUR", "15m": "ONE_MINUTE"}
# Bars the source produces per trading day for each request time frame.
SOURCE_BARS_PER_DAY: dict[Timeframe, int] = {"1d": 1, "1h": 5, "15m": 255}
# How far back "full history" reaches when no start is given, in trading days.
FULL_HISTORY_DAYS: dict[Timeframe, int] = {"1d": 7_000, "1h": 1_300, "15m": 120}


class VciProvider:
    name = "vci"
    batch_size = 50

    def __init__(
        self,
        base_url: str,
        *,
        policy: HttpPolicy | None = None,
        calendar: TradingCalendar | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = ProviderClient(
            self.name,
            base_url,
            headers={"Referer": WEB_ORIGIN, "Origin": WEB_ORIGIN.rstrip("/")},
            policy=policy,
            pacer=pacer,
        )
        self.calendar = calendar or TradingCalendar()

    def close(self) -> None:
        self.client.close()

    def count_back(self, tf: Timeframe, start: datetime | None, end: datetime) -> int:
        """How many source bars to ask for: enough for [start, end], never more than full history.

        A stale series' window can reach back further than the source keeps (minute bars go back
        ~120 trading days); asking for more than full history returns nothing more, only bigger
        payloads.
        """
        full = FULL_HISTORY_DAYS[tf]
        days = full
        if start is not None:
            days = len(self.calendar.trading_days(start.astimezone(VN_TZ).date(), end.astimezone(VN_TZ).date()))
        # Calendars disagree at the edges (unannounced closures, half days): ask for a little more.
        return max(1, int(min(days, full) * SOURCE_BARS_PER_DAY[tf] * 1.1) + SOURCE_BARS_PER_DAY[tf])

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        result = FetchResult()
        body = {
            "timeFrame": TIME_FRAMES[tf],
            "symbols": list(tickers),
            "to": int(end.timestamp()),
            "countBack": self.count_back(tf, start, end),
        }
        what = f"history {','.join(tickers[:3])}{'…' if len(tickers) > 3 else ''} {tf}"
        payload = self.client.request_json("POST", HISTORY_PATH, json=body, what=what)
        if not isinstance(payload, list):
            raise ProviderPayloadError(f"vci {what}: expected a JSON list, got {type(payload).__name__}")
        elements: dict[str, dict[str, Any]] = {}
        for element in payload:
            symbol = element.get("symbol") if isinstance(element, dict) else None
            if not isinstance(symbol, str) or symbol not in tickers:
                raise ProviderPayloadError(f"vci {what}: answered for symbol {symbol!r}, which was not requested")
            elements[symbol] = element
        start_ms = int(start.timestamp() * 1000) if start else None
        end_ms = int(end.timestamp() * 1000)
        for ticker in tickers:
            try:
                element = elements.get(ticker)
                if element is None:
                    raise BarValidationError(self.name, ticker, tf, "requested symbol missing from the answer")
                series = self._normalize(ticker, tf, element)
                result.series[ticker] = series.between(start_ms, end_ms)
            except BarValidationError as exc:
                result.errors[ticker] = exc
        return result

    def _normalize(self, ticker: str, tf: Timeframe, element: dict[str, Any]) -> BarSeries:
        # Stocks come in whole VND; indices in points.
        divisor = 1.0 if is_index(ticker) else 1000.0
        arrays = {k: _seconds(element.get(k)) if k == "t" else element.get(k) for k in "tohlcv"}
        if tf != "15m":
            series = series_from_arrays(
                source=self.name,
                ticker=ticker,
                tf=tf,
                arrays=arrays,
                payload_format=PayloadFormat(price_divisor=divisor),
            )
        else:
            minutes = series_from_arrays(
                source=self.name, ticker=ticker, tf="15m", arrays=arrays,
                payload_format=PayloadFormat(price_divisor=divisor, grid_ms=60_000),
            )  # fmt: skip
            series = resample_minutes_to_15m(minutes)
            validate(series)
        check_units(series)
        return series


def _seconds(values: object) -> object:
    # The gap-chart sends t as numbers, older builds as numeric strings; both mean unix seconds.
    if isinstance(values, list) and values and all(isinstance(v, str) and v.isdigit() for v in values):
        return [int(v) for v in values]
    return values


def resample_minutes_to_15m(minutes: BarSeries) -> BarSeries:
    """15-minute bars from 1-minute bars: clock-aligned bins in Asia/Ho_Chi_Minh inside the sessions.

    A print stamped exactly at a session's end (11:30, 15:00) belongs to the bin before it.
    Minutes in the lunch break or outside the sessions are a payload error; empty bins are dropped.
    """
    f = minutes.frame
    if not len(f):
        return BarSeries(minutes.source, minutes.ticker, "15m", f.copy())
    local = pd.to_datetime(f["ts"].to_numpy(), unit="ms", utc=True).tz_convert(VN_TZ)
    minute_of_day = np.asarray(local.hour * 60 + local.minute, dtype=np.int64)
    morning = (MORNING[0].hour * 60 + MORNING[0].minute, MORNING[1].hour * 60 + MORNING[1].minute)
    afternoon = (AFTERNOON[0].hour * 60, AFTERNOON[1].hour * 60)
    at_close = np.isin(minute_of_day, [morning[1], afternoon[1]])
    inside = ((minute_of_day >= morning[0]) & (minute_of_day < morning[1])) | (
        (minute_of_day >= afternoon[0]) & (minute_of_day < afternoon[1])
    )
    if (bad := ~(inside | at_close)).any():
        i = int(np.flatnonzero(bad)[0])
        raise BarValidationError(
            minutes.source,
            minutes.ticker,
            "15m",
            f"1-minute bar at {local[i].isoformat()} lies outside the sessions",
        )
    # The minutes are validated strictly increasing on the minute grid, so each 15-minute bin is
    # a contiguous run: reduceat over the runs does what a groupby would, ~20x faster (this is
    # most of a 15m fetch's CPU).  The bin is floored on the local wall clock.
    effective_minute = minute_of_day - at_close
    ts = f["ts"].to_numpy(dtype=np.int64)
    bins = ts - (at_close + effective_minute % 15) * 60_000
    starts = np.flatnonzero(np.concatenate(([True], bins[1:] != bins[:-1])))
    ends = np.concatenate((starts[1:], [len(bins)])) - 1
    out = pd.DataFrame(
        {
            "ts": bins[starts],
            "o": f["o"].to_numpy()[starts],
            "h": np.maximum.reduceat(f["h"].to_numpy(), starts),
            "l": np.minimum.reduceat(f["l"].to_numpy(), starts),
            "c": f["c"].to_numpy()[ends],
            "v": np.add.reduceat(f["v"].to_numpy(), starts),
        }
    )
    return BarSeries(minutes.source, minutes.ticker, "15m", out)
