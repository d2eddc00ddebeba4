"""`Client`: the History API's candles as pandas DataFrames, with paging, retries and typed errors."""

from __future__ import annotations

import email.utils
import io
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Literal

import httpx
import pandas as pd
import pyarrow.parquet as pq

from vietmarket_client import frames
from vietmarket_client.errors import (
    ApiError,
    AuthError,
    BadRequest,
    RateLimited,
    ServiceUnavailable,
    TransportError,
)
from vietmarket_client.times import TimeLike, bounds_ms, trading_date

log = logging.getLogger("vietmarket_client")

Adjustment = Literal["adjusted", "raw"]
Exchange = Literal["HOSE", "HNX", "UPCOM"]
# The API's own cap on a /candles/bulk page (routes/bulk.py BULK_MAX_LIMIT): the fewest requests.
BULK_PAGE_MAX: Final = 10_000
DEFAULT_TIMEOUT_S: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 4
DEFAULT_MAX_WAIT_S: Final = 60.0
# Backoff without a Retry-After: 0.5 s, 1 s, 2 s, ... (each with jitter), never over max_wait.
BACKOFF_BASE_S: Final = 0.5
# 429 (the key's rate limit) and 503 (db_unreachable) say "later", and every call here is a GET.
RETRIED_STATUSES: Final = frozenset({429, 503})
_TICKER: Final = re.compile(r"^[A-Za-z0-9]{1,12}$")
_ERRORS: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    401: AuthError,
    429: RateLimited,
    503: ServiceUnavailable,
}


class Client:
    """A History API client: `Client(url, key)`, or `with Client(url, key) as c:` to close its connections.

    Every call is a GET, so each is retried the same way: a 429 or 503 waits what its Retry-After
    says (seconds or an HTTP date), at most `max_wait` seconds; without one, and after a transport
    error (refused, reset, timed out), it backs off exponentially from 0.5 s with jitter, also
    capped at `max_wait`.  After `max_retries` retries it raises: RateLimited (429),
    ServiceUnavailable (503), TransportError (no answer).  Other errors are not retried: 400 is
    BadRequest (naming the parameter), 401 AuthError, the rest ApiError.  Retries are logged on
    the `vietmarket_client` logger at INFO.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_wait: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        if not key:
            raise ValueError("key is empty: pass the History API key (the X-API-Key value)")
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries} must be >= 0")
        if max_wait < 0:
            raise ValueError(f"max_wait={max_wait} must be >= 0")
        self.max_retries, self.max_wait = max_retries, max_wait
        self._http = httpx.Client(base_url=url.rstrip("/"), headers={"X-API-Key": key}, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def history(  # noqa: PLR0913  # the series, its range, its basis, and the page size
        self,
        ticker: str,
        tf: str,
        start: TimeLike,
        end: TimeLike,
        adjustment: Adjustment = "adjusted",
        *,
        page_size: int = BULK_PAGE_MAX,
    ) -> pd.DataFrame:
        """The bars of `ticker` in timeframe `tf` ("1d", "1h", "15m") whose index lies in [start, end), oldest first.

        Index `ts`, tz-aware in Asia/Ho_Chi_Minh: a 1d bar at 00:00 ICT of its trading date (the
        API's ts, 00:00 UTC of that date, is moved there, so `index.date` is the trading date); an
        intraday bar at the instant of its open.  Columns o, h, l, c (float64, thousands of VND;
        indices in points), v (Int64 whole shares, <NA> when unknown), source (string).

        start and end are dates (00:00 ICT), datetimes (naive ones are ICT wall time) or ISO
        strings; for 1d, [2020-01-01, 2025-01-01) is the trading dates 2020-01-01 to 2024-12-31.
        Pages through /candles/bulk (bars in [from, to) oldest first, a cursor per page of
        `page_size` rows), so the range is exact and no bar is read twice.  adjustment: "adjusted"
        (the provider's back-adjusted series) or "raw" (the traded prices).
        """
        if not _TICKER.fullmatch(ticker):
            raise ValueError(f"ticker={ticker!r} is not one ticker (1-12 letters or digits)")
        if not 1 <= page_size <= BULK_PAGE_MAX:
            raise ValueError(f"page_size={page_size} must be in 1..{BULK_PAGE_MAX} (the API's cap)")
        from_ms, to_ms = bounds_ms(tf, start, end)
        params = {
            "tickers": ticker,
            "tf": tf,
            "from": str(from_ms),
            "to": str(to_ms),
            "limit": str(page_size),
            "adjustment": adjustment,
        }
        rows: list[Mapping[str, Any]] = []
        while True:
            page = self._get("/candles/bulk", params).json()
            rows.extend(page["rows"])
            log.debug("GET /candles/bulk: %s %s page of %d bars", ticker, tf, page["count"])
            if page["nextCursor"] is None:
                return frames.from_rows(rows, tf, with_ticker=False)
            params["cursor"] = page["nextCursor"]

    def market(
        self, tf: str, date: TimeLike, *, exchange: Exchange | None = None, adjustment: Adjustment = "adjusted"
    ) -> pd.DataFrame:
        """Every ticker's bars of timeframe `tf` on one trading date (of an exchange's listed tickers if given).

        `date` is a date or ISO string (a datetime names its date in Asia/Ho_Chi_Minh).  The frame
        is export()'s: a MultiIndex (ticker, ts), by ticker then ts, so `df.xs(ts, level="ts")` is
        one bar of every ticker and `df.loc["VCB"]` is one ticker's bars as history() returns them.
        """
        day = trading_date(date)
        return self.export(tf, day, day + timedelta(days=1), exchange=exchange, adjustment=adjustment)

    def export(  # noqa: PLR0913  # the range, the selection and the basis
        self,
        tf: str,
        start: TimeLike,
        end: TimeLike,
        tickers: str | Sequence[str] | None = None,
        exchange: Exchange | None = None,
        adjustment: Adjustment = "adjusted",
    ) -> pd.DataFrame:
        """The bars of every ticker (or `tickers`, or an exchange's listed ones) in [start, end), via /export's Parquet.

        Index: a MultiIndex (ticker, ts), by ticker then ts; ts, the columns and [start, end) mean
        what they mean in history().  `tickers` is a list or a comma-separated string.  The file is
        held in memory while it is read; an export the API estimates over its cap is ApiError 413
        export_too_large (narrow the range or the tickers).
        """
        from_ms, to_ms = bounds_ms(tf, start, end)
        params = {"tf": tf, "from": str(from_ms), "to": str(to_ms), "format": "parquet", "adjustment": adjustment}
        if tickers is not None:
            params["tickers"] = tickers if isinstance(tickers, str) else ",".join(tickers)
        if exchange is not None:
            params["exchange"] = exchange
        response = self._get("/export", params)
        return frames.from_arrow(pq.read_table(io.BytesIO(response.content)), tf)

    def _get(self, endpoint: str, params: dict[str, str]) -> httpx.Response:
        """One GET, retried as the class docstring says: a 2xx response, else the error raised.

        Redirects are not followed (httpx's default): the X-API-Key header would go with them, to
        wherever they point; a 3xx is an ApiError naming its status.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.get(endpoint, params=params)
            except httpx.TransportError as exc:
                if attempt > self.max_retries:
                    raise TransportError(endpoint, attempt, exc) from exc
                self._pause(endpoint, attempt, type(exc).__name__, None)
                continue
            if response.is_success:
                return response
            error = error_of(response, endpoint, params, attempt)
            if response.status_code not in RETRIED_STATUSES or attempt > self.max_retries:
                raise error
            self._pause(endpoint, attempt, f"{error.status} {error.code}", retry_after(response))

    def _pause(self, endpoint: str, attempt: int, why: str, advised: float | None) -> None:
        if advised is not None:
            wait, basis = min(advised, self.max_wait), f"Retry-After {advised:g} s"
        else:
            ceiling = min(self.max_wait, BACKOFF_BASE_S * 2 ** (attempt - 1))
            # "Equal jitter": half the step for sure, so waits still grow, half at random, so
            # clients that failed together do not retry together.
            wait, basis = ceiling / 2 + random.uniform(0, ceiling / 2), "backoff"
        log.info("GET %s: %s; retry %d/%d in %.2f s (%s)", endpoint, why, attempt, self.max_retries, wait, basis)
        time.sleep(wait)


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_of(response: httpx.Response, endpoint: str, params: Mapping[str, str], attempts: int) -> ApiError:
    """The exception for an error response: the API's envelope, or the status and the start of the body."""
    status = response.status_code
    code, message = f"http_{status}", response.text[:200] or None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        message = body["detail"] if isinstance(body.get("detail"), str) else None
    kind = _ERRORS.get(status, ApiError)
    if kind is RateLimited:
        return RateLimited(status, code, message, endpoint, params, attempts, retry_after(response))
    return kind(status, code, message, endpoint, params, attempts)
