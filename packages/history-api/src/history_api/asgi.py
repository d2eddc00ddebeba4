"""Raw ASGI answers for the middlewares that refuse a request before it reaches a route."""

from __future__ import annotations

import msgspec
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Send

from history_api.models import ErrorBody

_encoder = msgspec.json.Encoder()


async def send_error(
    send: Send, status: int, error: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = _encoder.encode(ErrorBody(ok=False, error=error, detail=detail))
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *(headers or []),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
