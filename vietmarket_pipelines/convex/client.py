"""Calls Convex functions over its HTTP API, with the deploy key, short retries and typed failures."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from vietmarket_pipelines.providers.http import parse_retry_after

log = logging.getLogger(__name__)


class ConvexError(RuntimeError):
    """Convex did not run the function: an error envelope, a throttle, a server error or a timeout."""


class ConvexDisabled(ConvexError):
    """The deployment is disabled (e.g. for exceeding its plan): no call will succeed until someone acts."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Convex's words when a deployment has been switched off for its plan's limits.
_DISABLED_MARKERS = ("deployments have been disabled", "deployment is disabled", "exceeded the free plan")


class ConvexClient:
    """One deployment (`https://<name>.convex.cloud`), called as a server with `Authorization: Convex <key>`."""

    def __init__(self, url: str, deploy_key: str, *, timeout_s: float = 10.0, attempts: int = 3) -> None:
        self.url = url.rstrip("/")
        self.attempts = attempts
        self._client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Convex {deploy_key}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ConvexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mutation(self, path: str, args: dict[str, Any]) -> Any:
        return self._call("/api/mutation", path, args)

    def query(self, path: str, args: dict[str, Any]) -> Any:
        return self._call("/api/query", path, args)

    def _call(self, endpoint: str, path: str, args: dict[str, Any]) -> Any:
        backoff = wait_exponential_jitter(multiplier=0.5, max=5.0, jitter=0.5)

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = exc.retry_after if isinstance(exc, _Retryable) else None
            return min(max(hinted or 0.0, float(backoff(state))), 30.0)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable | httpx.TransportError)),
            reraise=True,
        )
        try:
            return retrying(self._send, endpoint, path, args)
        except _Retryable as exc:
            raise ConvexError(f"convex {path}: gave up after {self.attempts} attempts: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise ConvexError(f"convex {path}: timed out {self.attempts} times ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ConvexError(f"convex {path}: connection failed {self.attempts} times: {exc}") from exc

    def _send(self, endpoint: str, path: str, args: dict[str, Any]) -> Any:
        response = self._client.post(endpoint, json={"path": path, "args": args, "format": "json"})
        text = response.text[:300]
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {response.status_code}: {text}", retry_after)
        try:
            body = response.json()
        except ValueError:
            raise ConvexError(f"convex {path}: HTTP {response.status_code}, not JSON: {text!r}") from None
        if isinstance(body, dict) and body.get("status") == "success":
            return body.get("value")
        message = body.get("errorMessage") or body.get("message") or text if isinstance(body, dict) else text
        if any(marker in str(message).lower() for marker in _DISABLED_MARKERS):
            raise ConvexDisabled(f"convex {path}: deployment disabled: {message}")
        raise ConvexError(f"convex {path}: HTTP {response.status_code}: {message}")
