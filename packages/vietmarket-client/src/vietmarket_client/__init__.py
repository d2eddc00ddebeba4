"""The History API's Python client: `Client(url, key).history("FPT", "1d", "2020-01-01", "2025-01-01")`."""

from __future__ import annotations

from vietmarket_client.client import Adjustment, Client, Exchange
from vietmarket_client.errors import (
    ApiError,
    AuthError,
    BadRequest,
    RateLimited,
    ServiceUnavailable,
    TransportError,
    VietMarketError,
)
from vietmarket_client.times import VN_TZ

__all__ = [
    "VN_TZ",
    "Adjustment",
    "ApiError",
    "AuthError",
    "BadRequest",
    "Client",
    "Exchange",
    "RateLimited",
    "ServiceUnavailable",
    "TransportError",
    "VietMarketError",
]
