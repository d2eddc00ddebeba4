"""The read-only connection pool the app's lifespan owns, and the one place driver errors become API errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from history_api.settings import Settings
from history_api.timing import stage

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now; the service answers 503 db_unreachable and keeps trying."""


class QueryTimeout(Exception):
    """A query ran past statement_timeout and was cancelled by the server."""


# Errors that mean "no usable connection", as opposed to a bug in a query.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A wrong password or database name is an operator's fix, not a crash loop: answer 503 and log it.
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)


async def keep_session(_: asyncpg.Connection[asyncpg.Record]) -> None:
    return None


class Database:
    """A lazily (re)created asyncpg pool on the read-only role.

    The pool is not required at start-up: a service that boots while the database is down answers
    503 and connects on the first request after the database returns.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._lock = asyncio.Lock()
        self._gate = asyncio.Semaphore(settings.pool_max)

    async def open(self) -> None:
        # Made on the serving loop: a semaphore binds to the loop it first waits on.
        self._gate = asyncio.Semaphore(self._settings.pool_max)
        try:
            await self._get_pool()
        except DatabaseUnavailable as exc:
            log.warning("database not reachable at start-up (%s); will retry on demand", exc)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _get_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                s = self._settings
                try:
                    self._pool = await asyncpg.create_pool(
                        s.pg_url,
                        min_size=s.pool_min,
                        max_size=s.pool_max,
                        timeout=s.connect_timeout_s,
                        # Bounds a query even if the server-side timeout were lost (pgbouncer, a reset GUC).
                        command_timeout=s.statement_timeout_ms / 1000 + 1,
                        max_inactive_connection_lifetime=120,
                        # The API never sets session state (no SET, LISTEN, advisory locks, open
                        # cursors), so asyncpg's reset query on every release is a wasted round trip.
                        reset=keep_session,
                        server_settings={
                            "application_name": "history_api",
                            "statement_timeout": str(s.statement_timeout_ms),
                            "default_transaction_read_only": "on",
                            "idle_in_transaction_session_timeout": "10000",
                        },
                    )
                except _CONNECTION_ERRORS as exc:
                    raise DatabaseUnavailable(type(exc).__name__) from exc
        assert self._pool is not None
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[asyncpg.Record]]:
        pool = await self._get_pool()
        try:
            # Requests wait for a connection in arrival order.  asyncpg's pool alone is not fair: a
            # released connection goes to whichever request asks next, and a waiter that lost the
            # race queues again at the back, so under load a few requests waited 0.6 s while the
            # median waited 6 ms (the tail in benchmarks/history_api.py).  asyncio's Semaphore
            # hands each release to its oldest waiter, and with no more holders than the pool has
            # connections, pool.acquire itself never waits.
            with stage("acquire"):
                await self._gate.acquire()
            try:
                with stage("acquire"):
                    conn = await pool.acquire(timeout=self._settings.connect_timeout_s)
                try:
                    yield conn
                finally:
                    await pool.release(conn)
            finally:
                self._gate.release()
        except asyncpg.QueryCanceledError as exc:
            raise QueryTimeout(str(exc)) from exc
        except _CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        # Reads are idempotent, so a connection that died under a restarted server gets one retry on
        # a fresh connection before the client sees a 503.
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    with stage("query"):
                        return await conn.fetch(sql, *args)
            except DatabaseUnavailable:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def stream(self, sql: str, *args: Any, batch: int) -> AsyncIterator[Sequence[asyncpg.Record]]:
        """The rows of `sql` in batches of at most `batch`, from a server-side cursor: constant memory.

        The cursor lives in a read-only transaction on one pooled connection, held until the last
        batch is taken or the consumer stops.  No retry: a batch already handed on cannot be replayed.
        """
        async with self._connection() as conn, conn.transaction(readonly=True):
            # A slow reader idles between fetches; the pool's 10 s limit suits requests, not downloads.
            await conn.execute("SET LOCAL idle_in_transaction_session_timeout = '300s'")
            cursor = await conn.cursor(sql, *args)
            while rows := await cursor.fetch(batch):
                yield rows

    async def ping(self) -> None:
        await self.fetch("SELECT 1")
