"""VNDirect dchart history in TradingView-UDF form, one ticker per request; indices by the same symbol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vietmarket_core.market import Timeframe
from vietmarket_pipelines.providers.base import FULL_HISTORY_FROM_S, NO_BARS, FetchResult, PerTickerHistory
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError
from vietmarket_pipelines.providers.pacing import Pacer

HISTORY_PATH = "/dchart/history"
RESOLUTIONS: dict[Timeframe, str] = {"1d": "D", "1h": "60", "15m": "15"}


def unwrap(payload: Any, what: str) -> dict[str, Any]:
    """{"s": "ok", "t": [...], ...} or {"s": "no_data"}"""
    if not isinstance(payload, dict) or payload.get("s") not in ("ok", "no_data"):
        status = payload.get("s") if isinstance(payload, dict) else type(payload).__name__
        raise ProviderPayloadError(f"vndirect {what}: expected s ok or no_data, got {status!r}")
    return payload if payload["s"] == "ok" else NO_BARS


class VndirectProvider:
    name = "vndirect"
    batch_size = 1

    def __init__(self, base_url: str, *, policy: HttpPolicy | None = None, pacer: Pacer | None = None) -> None:
        self.client = ProviderClient(
            self.name, base_url, headers={"Referer": "https://dchart.vndirect.com.vn/"}, policy=policy, pacer=pacer
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        def params(ticker: str) -> dict[str, Any]:
            return {
                "symbol": ticker,
                "resolution": RESOLUTIONS[tf],
                "from": int(start.timestamp()) if start else FULL_HISTORY_FROM_S,
                "to": int(end.timestamp()),
            }

        history = PerTickerHistory(self.client, HISTORY_PATH, params=params, arrays=unwrap)
        return history.fetch(tickers, tf, start, end)
