"""Who may call the API: API keys compared in constant time, short-lived chart tokens, and per-key rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from history_api.asgi import send_error

PUBLIC_PATHS = ("^/healthz$", "^/schema(/|$)", "^/chart$", "^/chart/assets/")


def key_id(key: str) -> str:
    """A non-secret name for a key: what logs and rate-limit buckets see instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Caller:
    key_id: str
    via: str  # "key" or "token"


class KeyRing:
    """The accepted keys, held as SHA-256 digests so every comparison is of equal length."""

    def __init__(self, keys: tuple[str, ...], token_secret: bytes) -> None:
        self._digests = [(hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys]
        # Each key signs its own tokens, so rotating one key out revokes its tokens and no others.
        self._signing = {kid: hmac.new(token_secret, digest, hashlib.sha256).digest() for digest, kid in self._digests}

    def match(self, presented: str) -> str | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found: str | None = None
        # No early exit: the time taken does not depend on which key (if any) matched.
        for candidate, kid in self._digests:
            if hmac.compare_digest(candidate, digest):
                found = kid
        return found

    def issue_token(self, kid: str, ttl_s: int, now: float | None = None) -> tuple[str, int]:
        """A token for the chart page: `<key id>.<expiry ms>.<signature>`; it names its key, never contains it."""
        expires_ms = int(((now if now is not None else time.time()) + ttl_s) * 1000)
        payload = f"{kid}.{expires_ms}"
        return f"{payload}.{self._sign(kid, payload)}", expires_ms

    def verify_token(self, token: str, now: float | None = None) -> str | None:
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        kid, expires_ms, signature = parts
        if kid not in self._signing:
            return None
        if not hmac.compare_digest(self._sign(kid, f"{kid}.{expires_ms}"), signature):
            return None
        if int(expires_ms) <= (now if now is not None else time.time()) * 1000:
            return None
        return kid

    def _sign(self, kid: str, payload: str) -> str:
        mac = hmac.new(self._signing[kid], payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class Unauthorized(Exception):
    """No valid X-API-Key header or chart token."""


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Accepts `X-API-Key: <key>` or `Authorization: Bearer <chart token>`."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        keyring: KeyRing = connection.app.state.keyring
        presented = connection.headers.get("x-api-key")
        if presented:
            kid = keyring.match(presented)
            if kid is not None:
                return AuthenticationResult(user=Caller(kid, "key"), auth=kid)
            raise Unauthorized
        bearer = connection.headers.get("authorization", "")
        if bearer[:7].lower() == "bearer ":
            kid = keyring.verify_token(bearer[7:].strip())
            if kid is not None:
                return AuthenticationResult(user=Caller(kid, "token"), auth=kid)
        raise Unauthorized


class RateLimitMiddleware:
    """A sliding-window limit per key id (from `limits`), with RateLimit-* headers and Retry-After on 429.

    Each key id has its own limit in `per_key` or else `item`.  It runs after ApiKeyMiddleware, so
    anonymous requests never reach it and never share a bucket.  The counters live in this worker process.
    """

    def __init__(self, app: ASGIApp, item: RateLimitItem, per_key: dict[str, RateLimitItem]) -> None:
        self.app = app
        self.default = item
        self.per_key = per_key
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kid = scope.get("auth") if scope["type"] == ScopeType.HTTP else None
        if not isinstance(kid, str):
            await self.app(scope, receive, send)
            return
        item = self.per_key.get(kid, self.default)
        allowed = await self.limiter.hit(item, kid)
        stats = await self.limiter.get_window_stats(item, kid)
        reset_s = max(0, int(stats.reset_time - time.time() + 0.999))
        headers = [
            (b"ratelimit-limit", str(item.amount).encode()),
            (b"ratelimit-remaining", str(stats.remaining).encode()),
            (b"ratelimit-reset", str(reset_s).encode()),
            (b"ratelimit-policy", f"{item.amount};w={item.get_expiry()}".encode()),
        ]
        if not allowed:
            retry = [(b"retry-after", str(max(1, reset_s)).encode()), *headers]
            await send_error(send, 429, "rate_limited", f"limit {item} for this key", retry)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
