"""What bulk reads and exports may cost a key: their own per-key rate limits, and the cap on an export's size."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Final, Literal

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from history_api.auth import key_id
from history_api.errors import ApiError
from history_api.settings import Settings
from vietmarket_core.market import Timeframe

Route = Literal["bulk", "export"]
# The most bars one series has on one weekday: 1h opens at 09, 10, 11, 13, 14; 15m covers
# 09:00-11:30 and 13:00-15:00 (see the providers' trading sessions).
BARS_PER_WEEKDAY: Final[dict[Timeframe, int]] = {"1d": 1, "1h": 5, "15m": 18}
# HOSE's first session: no bar is older, so an open-ended range costs no more than this.
FIRST_SESSION: Final = date(2000, 7, 28)
DAY_MS: Final = 86_400_000
_VARIABLES: Final[dict[Route, str]] = {"bulk": "HISTORY_API_BULK_RATE_LIMIT", "export": "HISTORY_API_EXPORT_RATE_LIMIT"}


class BulkLimits:
    """Sliding-window counters per key, one per route, kept in this worker process like the global limit."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._items = {"bulk": parse(settings.bulk_rate_limit), "export": parse(settings.export_rate_limit)}
        # A key's own bulk= / export= limit from the key file replaces the route's default for it.
        self._per_key = {(route, key_id(key)): item for (key, route), item in settings.key_route_limit_items().items()}
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def admit(self, route: Route, kid: str) -> None:
        """Counts one call of `route` by key `kid`; 429 rate_limited naming the limit when it is spent."""
        own = self._per_key.get((route, kid))
        item = own or self._items[route]
        if await self._limiter.hit(item, route, kid):
            return
        stats = await self._limiter.get_window_stats(item, route, kid)
        retry_s = max(1, int(stats.reset_time - time.time() + 0.999))
        raise ApiError(
            429,
            "rate_limited",
            f"/{'candles/bulk' if route == 'bulk' else 'export'} allows {item} "
            + (f"for this key ({route}= in the key file)" if own else f"per key ({_VARIABLES[route]})"),
            {"Retry-After": str(retry_s)},
        )

    def check_tickers(self, count: int) -> None:
        if count > self._settings.bulk_max_tickers:
            raise ApiError(
                400,
                "invalid_tickers",
                f"{count} tickers; at most {self._settings.bulk_max_tickers} per call (HISTORY_API_BULK_MAX_TICKERS)",
            )

    def check_export(self, tf: Timeframe, series: int, from_ms: int, to_ms: int) -> int:
        """The export's estimated bars; 413 export_too_large naming the cap when it is over it."""
        bars = series * BARS_PER_WEEKDAY[tf] * weekdays(from_ms, to_ms)
        cap = self._settings.export_max_bars
        if bars > cap:
            raise ApiError(
                413,
                "export_too_large",
                f"about {bars} bars ({series} series x {tf} bars from {bar_day(from_ms)} to {bar_day(to_ms)}) "
                f"is over the cap of {cap} (HISTORY_API_EXPORT_MAX_BARS); narrow tickers, exchange or from/to",
            )
        return bars


def bar_day(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()


def weekdays(from_ms: int, to_ms: int) -> int:
    """Weekdays whose 00:00 UTC lies in [from, to), counted from the first session and up to tomorrow."""
    now_ms = time.time_ns() // 1_000_000
    first = max(from_ms, int(datetime.combine(FIRST_SESSION, datetime.min.time(), tzinfo=UTC).timestamp()) * 1000)
    last = min(to_ms, now_ms + DAY_MS)
    if last <= first:
        return 0
    start_day = -(-first // DAY_MS)
    end_day = -(-last // DAY_MS)
    days = end_day - start_day
    full_weeks = days // 7
    # 1970-01-01 (day 0) was a Thursday: day d is a weekday when (d + 3) % 7 < 5.
    extra = sum(1 for d in range(start_day + full_weeks * 7, end_day) if (d + 3) % 7 < 5)
    return full_weeks * 5 + extra
