"""SSI iBoard chart history: adjusted prices, already in thousands of VND, one ticker per request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vietmarket_pipelines.bars import BarValidationError, series_from_arrays
from vietmarket_pipelines.market import Timeframe
from vietmarket_pipelines.providers.base import FetchResult, check_units
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError

HISTORY_PATH = "/statistics/charts/history"
RESOLUTIONS: dict[Timeframe, str] = {"1d": "1D", "1h": "60", "15m": "15"}
# SSI's history reaches back to each ticker's listing; 2000-01-01 covers the whole market.
FULL_HISTORY_FROM = 946_684_800


class SsiProvider:
    name = "ssi"
    batch_size = 1

    def __init__(self, base_url: str, *, policy: HttpPolicy | None = None) -> None:
        self.client = ProviderClient(
            self.name, base_url, headers={"Origin": "https://iboard.ssi.com.vn"}, policy=policy
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        result = FetchResult()
        for ticker in tickers:
            params = {
                "resolution": RESOLUTIONS[tf],
                "symbol": ticker,
                "from": int(start.timestamp()) if start else FULL_HISTORY_FROM,
                "to": int(end.timestamp()),
            }
            what = f"history {ticker} {tf}"
            payload = self.client.request_json("GET", HISTORY_PATH, params=params, what=what)
            if (
                not isinstance(payload, dict)
                or payload.get("code") != "SUCCESS"
                or not isinstance(payload.get("data"), dict)
            ):
                code = payload.get("code") if isinstance(payload, dict) else type(payload).__name__
                raise ProviderPayloadError(f"ssi {what}: expected code SUCCESS with a data object, got {code!r}")
            data = payload["data"]
            try:
                if data.get("s") == "no_data":
                    data = {k: [] for k in "tohlcv"}
                series = series_from_arrays(source=self.name, ticker=ticker, tf=tf, arrays=data)
                check_units(series)
                start_ms = int(start.timestamp() * 1000) if start else None
                result.series[ticker] = series.between(start_ms, int(end.timestamp() * 1000))
            except BarValidationError as exc:
                result.errors[ticker] = exc
        return result
