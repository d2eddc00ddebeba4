"""Where a request's time goes: per-stage timings, sent back in a Server-Timing header when enabled."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# A client (the load benchmark) that stamps `X-Request-Start: t=<unix microseconds>` when it writes
# the request learns how long the request waited before the app saw it: the accept queue, the
# worker's event loop and the HTTP parser.  The same idiom as nginx's and Heroku's request-start header.
REQUEST_START_HEADER: Final = b"x-request-start"


class _GcPauses:
    """Total time this process has spent in the collector, from gc's own start/stop callbacks."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_s += time.perf_counter() - self._started


_gc_pauses = _GcPauses()
_current: ContextVar[dict[str, float] | None] = ContextVar("history_api_stages", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Adds the time spent in the block to the current request's `name` stage; free when timing is off."""
    stages = _current.get()
    if stages is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + (time.perf_counter() - started) * 1000


def _queued_ms(scope: Scope, arrived_s: float) -> float | None:
    for name, value in scope["headers"]:
        if name == REQUEST_START_HEADER:
            try:
                return max(0.0, arrived_s * 1000 - int(value.removeprefix(b"t=")) / 1000)
            except ValueError:
                return None
    return None


class ServerTiming:
    """Times each request's stages and answers them in `Server-Timing` (ms), with the worker's pid.

    Stages: `queue` (client write to app entry, when the client stamped X-Request-Start), `acquire`
    and `query` (db.py), `gc` (collector pauses while the request was in flight), and `app`: the
    rest of the time up to the response's first byte (routing, auth, limits, parameters, encoding).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        if _gc_pauses not in gc.callbacks:
            gc.callbacks.append(_gc_pauses)
        self._worker = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        started = time.perf_counter()
        gc_before = _gc_pauses.total_s
        stages: dict[str, float] = {}
        queued = _queued_ms(scope, arrived)
        token = _current.set(stages)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                stages["gc"] = (_gc_pauses.total_s - gc_before) * 1000
                stages["app"] = max(0.0, total - stages.get("acquire", 0.0) - stages.get("query", 0.0))
                if queued is not None:
                    stages["queue"] = queued
                value = b", ".join(f"{k};dur={v:.3f}".encode() for k, v in stages.items())
                value += b', w;desc="' + self._worker + b'"'
                message["headers"] = [*message.get("headers", ()), (b"server-timing", value)]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            _current.reset(token)
