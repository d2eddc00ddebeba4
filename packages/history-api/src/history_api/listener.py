"""The worker's one LISTEN connection, outside the pool: each channel's handler, and who hears when it is up or lost."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any, Final

import asyncpg

from history_api.settings import Settings

log = logging.getLogger(__name__)

RELISTEN_DELAY_S: Final = 1.0
_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Handler = Callable[[str], None]
Hook = Callable[[], None]


def _deliver(handler: Handler, _conn: object, _pid: int, _channel: str, payload: object) -> None:
    handler(str(payload))


class Listener:
    """LISTENs on every subscribed channel over one connection, re-established RELISTEN_DELAY_S after a loss.

    Handlers are plain functions: asyncpg schedules them in the order the notifications arrive,
    ahead of whatever the same bytes from the server resolve next (round_trip relies on that).
    `on_up` runs once the connection listens on every channel, `on_down` as soon as it is lost.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._handlers: dict[str, Handler] = {}
        self._on_up: list[Hook] = []
        self._on_down: list[Hook] = []
        self._conn: asyncpg.Connection[Any] | None = None
        self._closed = asyncio.Event()
        self._round_lock = asyncio.Lock()
        self._rounds_started = 0
        self._rounds_done = 0
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def subscribe(
        self, channel: str, handler: Handler, *, on_up: Hook | None = None, on_down: Hook | None = None
    ) -> None:
        """Before start(): `handler` gets each payload on `channel`."""
        self._handlers[channel] = handler
        if on_up is not None:
            self._on_up.append(on_up)
        if on_down is not None:
            self._on_down.append(on_down)

    async def start(self) -> None:
        if self._handlers:
            self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def round_trip(self) -> bool:
        """A `SELECT 1` on the connection that began after this call; False if there is none or it failed.

        A writer's COMMIT signals the listening backends before it returns, and a backend sends what
        it was signalled about before its next ReadyForQuery, so when this returns True every
        notification committed before the call has been handed to its handler.  Callers that
        arrive while a round trip is in flight share the next one (a group commit of sorts).
        """
        wanted = self._rounds_started + 1
        async with self._round_lock:
            if self._rounds_done >= wanted:
                return True  # a round trip that began after we arrived completed while we waited
            conn = self._conn
            if conn is None:
                return False
            self._rounds_started += 1
            round_no = self._rounds_started
            try:
                await conn.fetchval("SELECT 1", timeout=self._settings.connect_timeout_s)
            except _ERRORS as exc:
                log.warning("the listener did not answer a round trip (%s); reconnecting", type(exc).__name__)
                self._lost(conn)
                conn.terminate()
                return False
            self._rounds_done = round_no
            return self._conn is conn

    def _lost(self, conn: asyncpg.Connection[Any]) -> None:
        if self._conn is not conn:
            return
        self._conn = None
        self.listening.clear()
        self._closed.set()
        for down in self._on_down:
            down()

    async def _listen_forever(self) -> None:
        channels = ", ".join(self._handlers)
        while True:
            conn: asyncpg.Connection[Any] | None = None
            try:
                conn = await asyncpg.connect(
                    self._settings.pg_url,
                    timeout=self._settings.connect_timeout_s,
                    server_settings={"application_name": "history_api_listen"},
                )
                await self._listen_on(conn)
                log.warning("the listener on %s lost its connection; listening again", channels)
            except _ERRORS as exc:
                log.warning("cannot LISTEN %s (%s); retrying", channels, type(exc).__name__)
            finally:
                if conn is not None:
                    self._lost(conn)
                    if not conn.is_closed():
                        conn.terminate()
            await asyncio.sleep(RELISTEN_DELAY_S)

    async def _listen_on(self, conn: asyncpg.Connection[Any]) -> None:
        """Until the connection is lost."""
        self._closed = asyncio.Event()
        conn.add_termination_listener(lambda _: self._lost(conn))
        for channel, handler in self._handlers.items():
            await conn.add_listener(channel, functools.partial(_deliver, handler))
        self._conn = conn
        for up in self._on_up:
            up()
        self.listening.set()
        await self._closed.wait()
