"""SSI iBoard chart history: adjusted prices, already in thousands of VND, one ticker per request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vietmarket_core.market import Timeframe
from vietmarket_pipelines.providers.base import FULL_HISTORY_FROM_S, NO_BARS, FetchResult, PerTickerHistory
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError
from vietmarket_pipelines.providers.pacing import Pacer

HISTORY_PATH = "/statistics/charts/history"
RESOLUTIONS: dict[Timeframe, str] = {"1d": "1D", "1h": "60", "15m": "15"}


def unwrap(payload: Any, what: str) -> dict[str, Any]:
    """{"code": "SUCCESS", "data": {"t": [...], ..., "s": "ok" | "no_data"}}"""
    if not isinstance(payload, dict) or payload.get("code") != "SUCCESS" or not isinstance(payload.get("data"), dict):
        code = payload.get("code") if isinstance(payload, dict) else type(payload).__name__
        raise ProviderPayloadError(f"ssi {what}: expected code SUCCESS with a data object, got {code!r}")
    data: dict[str, Any] = payload["data"]
    return NO_BARS if data.get("s") == "no_data" else data


class SsiProvider:
    name = "ssi"
    batch_size = 1

    def __init__(self, base_url: str, *, policy: HttpPolicy | None = None, pacer: Pacer | None = None) -> None:
        self.client = ProviderClient(
            self.name, base_url, headers={"Origin": "https://iboard.ssi.com.vn"}, policy=policy, pacer=pacer
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        def params(ticker: str) -> dict[str, Any]:
            return {
                "resolution": RESOLUTIONS[tf],
                "symbol": ticker,
                "from": int(start.timestamp()) if start else FULL_HISTORY_FROM_S,
                "to": int(end.timestamp()),
            }

        history = PerTickerHistory(self.client, HISTORY_PATH, params=params, arrays=unwrap)
        return history.fetch(tickers, tf, start, end)
