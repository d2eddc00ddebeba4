"""Requests get pooled connections in the order they asked for them: no request overtakes one already waiting."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from history_api.db import Database
from tests.history_api.conftest import ApiDatabase, api_settings

REQUESTS = 2000
# One connection serves everyone, so the server's clock orders the queries as the connection was handed out.
SQL = "SELECT clock_timestamp() AS served"

Read = Callable[[], Awaitable[datetime]]


async def _storm(read: Read) -> int:
    """Requests arriving three per turn of the event loop, as a busy worker's do; how many were served out of turn."""
    arrivals = itertools.count()
    served: list[tuple[int, datetime]] = []

    async def request() -> None:
        asked = next(arrivals)  # no suspension between this and the request joining the queue
        served.append((asked, await read()))

    requests = []
    for i in range(REQUESTS):
        requests.append(asyncio.create_task(request()))
        if i % 3 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*requests), timeout=60)
    by_service = [asked for asked, _ in sorted(served, key=lambda s: s[1])]
    return sum(1 for before, after in itertools.pairwise(by_service) if after < before)


async def _through_database(dsn: str) -> int:
    db = Database(api_settings(dsn, pool_min=1, pool_max=1))
    await db.open()
    try:

        async def read() -> datetime:
            row = await db.fetchrow(SQL)
            assert row is not None
            served: datetime = row["served"]
            return served

        return await _storm(read)
    finally:
        await db.close()


async def _through_bare_pool(dsn: str) -> int:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:

        async def read() -> datetime:
            # With a timeout, as db.py acquires: asyncpg then waits in a task of its own.
            async with pool.acquire(timeout=3) as conn:
                served: datetime = await conn.fetchval(SQL)
            return served

        return await _storm(read)
    finally:
        await pool.close()


def test_requests_are_served_in_the_order_they_asked(api_db: ApiDatabase) -> None:
    assert asyncio.run(_through_database(api_db.reader_dsn)) == 0


def test_a_bare_asyncpg_pool_lets_requests_overtake_the_queue(api_db: ApiDatabase) -> None:
    # Why db.py gates the pool: if asyncpg's pool becomes fair, this fails and the gate can go.
    assert asyncio.run(_through_bare_pool(api_db.reader_dsn)) > 0
