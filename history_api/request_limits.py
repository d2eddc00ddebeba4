"""Refuses oversized query strings before any parsing: every parameter this API takes is short."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from history_api.asgi import send_error


class QueryStringLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and len(scope["query_string"]) > self.max_bytes:
            await send_error(send, 414, "uri_too_long", f"the query string is over {self.max_bytes} bytes")
            return
        await self.app(scope, receive, send)
