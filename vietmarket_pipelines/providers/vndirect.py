"""VNDirect dchart history in TradingView-UDF form, one ticker per request; indices by the same symbol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vietmarket_pipelines.bars import BarValidationError, series_from_arrays
from vietmarket_pipelines.market import Timeframe
from vietmarket_pipelines.providers.base import FetchResult, check_units
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError

HISTORY_PATH = "/dchart/history"
RESOLUTIONS: dict[Timeframe, str] = {"1d": "D", "1h": "60", "15m": "15"}
FULL_HISTORY_FROM = 946_684_800


class VndirectProvider:
    name = "vndirect"
    batch_size = 1

    def __init__(self, base_url: str, *, policy: HttpPolicy | None = None) -> None:
        self.client = ProviderClient(
            self.name, base_url, headers={"Referer": "https://dchart.vndirect.com.vn/"}, policy=policy
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        result = FetchResult()
        for ticker in tickers:
            params = {
                "symbol": ticker,
                "resolution": RESOLUTIONS[tf],
                "from": int(start.timestamp()) if start else FULL_HISTORY_FROM,
                "to": int(end.timestamp()),
            }
            what = f"history {ticker} {tf}"
            payload = self.client.request_json("GET", HISTORY_PATH, params=params, what=what)
            if not isinstance(payload, dict) or payload.get("s") not in ("ok", "no_data"):
                status = payload.get("s") if isinstance(payload, dict) else type(payload).__name__
                raise ProviderPayloadError(f"vndirect {what}: expected s ok or no_data, got {status!r}")
            try:
                arrays = payload if payload["s"] == "ok" else {k: [] for k in "tohlcv"}
                series = series_from_arrays(source=self.name, ticker=ticker, tf=tf, arrays=arrays)
                check_units(series)
                start_ms = int(start.timestamp() * 1000) if start else None
                result.series[ticker] = series.between(start_ms, int(end.timestamp() * 1000))
            except BarValidationError as exc:
                result.errors[ticker] = exc
        return result
