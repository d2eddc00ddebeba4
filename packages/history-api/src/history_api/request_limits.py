"""Refuses oversized query strings, and NUL bytes no database text can hold, before any parsing."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from history_api.asgi import send_error


class QueryStringLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            query = scope["query_string"]
            if len(query) > self.max_bytes:
                await send_error(send, 414, "uri_too_long", f"the query string is over {self.max_bytes} bytes")
                return
            if b"%00" in query or b"\x00" in query:
                await send_error(send, 400, "invalid_request", "the query string holds a NUL byte (%00)")
                return
        await self.app(scope, receive, send)
