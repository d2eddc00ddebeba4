"""One polite, resilient HTTP client per provider: rate limit, timeouts, retries, kept-alive connections."""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from vietmarket_pipelines.providers.pacing import LocalPacer, Pacer

log = logging.getLogger(__name__)

BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
# VCI answers a burst past its window with a 200 or 4xx whose body says so, in either language.
RATE_LIMIT_MARKERS = ("giới hạn api", "gioi han api", "rate limit", "too many requests")


class ProviderError(RuntimeError):
    """A provider could not give a usable answer; the message names the provider and the request."""


class ProviderUnavailable(ProviderError):
    """The provider kept failing (timeouts, 429, 5xx) after every retry."""


class ProviderPayloadError(ProviderError):
    """The provider answered with something that is not its documented format."""


class RetryableResponse(Exception):
    def __init__(self, status: int, retry_after: float | None, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.retry_after = status, retry_after


@dataclass(frozen=True)
class HttpPolicy:
    """How hard to lean on a provider.  Defaults suit VCI's ~20 requests per short window."""

    requests: int = 8
    per_seconds: float = 4.0
    timeout_s: float = 20.0
    connect_timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 60.0
    max_connections: int = 8


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableResponse | httpx.TimeoutException | httpx.TransportError)


class ProviderClient:
    """An httpx.Client with the provider's base URL and headers, a rate limiter and retries.

    `pacer` spaces the requests; without one, the policy's budget applies to this client alone.
    The client closes its pacer.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        policy: HttpPolicy | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.name = name
        self.policy = policy or HttpPolicy()
        p = self.policy
        self._pacer = pacer or LocalPacer(p.requests, p.per_seconds)
        self._client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": BROWSER_USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(p.timeout_s, connect=p.connect_timeout_s),
            limits=httpx.Limits(max_connections=p.max_connections, max_keepalive_connections=p.max_connections),
            follow_redirects=True,
        )
        self._exp_wait = wait_exponential_jitter(
            multiplier=p.backoff_initial_s, max=p.backoff_max_s, jitter=p.backoff_initial_s
        )

    def close(self) -> None:
        self._client.close()
        self._pacer.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._exp_wait(state))
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.retry_after is not None:
            return min(max(exc.retry_after, backoff), self.policy.max_retry_after_s)
        return backoff

    def _before_sleep(self, what: str) -> Any:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s %s: attempt %d failed (%s); retrying in %.1f s",
                self.name,
                what,
                state.attempt_number,
                exc,
                wait,
            )

        return log_retry

    def request_json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Sends one logical request (see `request`) and decodes its JSON body."""
        response = self.request(method, path, what=what, params=params, json=json)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderPayloadError(
                f"{self.name} {what}: response is not valid JSON ({exc}); first bytes {response.text[:120]!r}"
            ) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Sends one logical request, retried on timeouts, connection errors, 429 and 5xx.

        `what` names the request in errors and logs, e.g. "history FPT 1d".  Any other 4xx is a
        ProviderError at once: retrying would not change the answer.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            before_sleep=self._before_sleep(what),
            reraise=True,
        )
        try:
            response = retrying(self._send, method, path, params, json)
        except RetryableResponse as exc:
            raise ProviderUnavailable(
                f"{self.name} {what}: gave up after {self.policy.max_attempts} attempts, last answer {exc}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(
                f"{self.name} {what}: gave up after {self.policy.max_attempts} attempts, last one timed out "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"{self.name} {what}: gave up after {self.policy.max_attempts} attempts; connection failed: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise ProviderError(f"{self.name} {what}: HTTP {response.status_code}: {response.text[:200]!r}")
        return response

    def _send(self, method: str, path: str, params: dict[str, Any] | None, json: Any) -> httpx.Response:
        started = time.monotonic()
        self._pacer.acquire(self.name)
        response = self._client.request(method, path, params=params, json=json)
        if response.status_code == 429 or response.status_code >= 500 or self._says_rate_limited(response):
            raise RetryableResponse(
                response.status_code,
                parse_retry_after(response.headers.get("Retry-After")),
                response.text[:160].replace("\n", " "),
            )
        log.debug(
            "%s %s %s -> %d in %.3f s",
            self.name,
            method,
            path,
            response.status_code,
            time.monotonic() - started,
        )
        return response

    @staticmethod
    def _says_rate_limited(response: httpx.Response) -> bool:
        # A throttle notice is a short message; a real payload is never mistaken for one.
        if len(response.content) > 2048:
            return False
        text = response.text.lower()
        return any(marker in text for marker in RATE_LIMIT_MARKERS)
