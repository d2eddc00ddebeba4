"""The service's database role can read and nothing else, and one slow query cannot hold a connection."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg2
import pytest

from history_api.db import Database, QueryTimeout
from tests.history_api.conftest import ApiDatabase, api_settings


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c) VALUES ('ZZZ', '1d', 0, 1, 1, 1, 1)",
        "UPDATE symbols SET active = false",
        "DELETE FROM candles_latest",
        "CREATE TEMP TABLE scratch (x int)",
        "TRUNCATE articles",
    ],
)
@pytest.mark.parametrize("session_read_write", [False, True], ids=["as-configured", "read-only-switched-off"])
def test_the_reader_role_cannot_write(api_db: ApiDatabase, statement: str, session_read_write: bool) -> None:
    conn = psycopg2.connect(api_db.reader_dsn)
    try:
        with conn.cursor() as cur:
            if session_read_write:
                # The role's default is read-only; a session that turns it off still lacks privileges.
                cur.execute("SET default_transaction_read_only = off")
                conn.commit()
        with pytest.raises(psycopg2.Error) as failure, conn.cursor() as cur:
            cur.execute(statement)
        # 25006: read-only transaction; 42501: insufficient privilege.
        assert failure.value.pgcode == ("42501" if session_read_write else "25006"), failure.value.pgerror
    finally:
        conn.close()


def test_writes_through_the_services_own_pool_fail(api_db: ApiDatabase) -> None:
    async def attempt() -> None:
        db = Database(api_settings(api_db.reader_dsn))
        await db.open()
        try:
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await db.fetch("INSERT INTO symbols (ticker) VALUES ('ZZZ') RETURNING ticker")
        finally:
            await db.close()

    asyncio.run(attempt())


def test_statement_timeout_cancels_a_slow_query_and_frees_the_connection(api_db: ApiDatabase) -> None:
    async def attempt() -> None:
        db = Database(api_settings(api_db.reader_dsn, statement_timeout_ms=200, pool_max=1))
        await db.open()
        try:
            with pytest.raises(QueryTimeout):
                await db.fetch("SELECT pg_sleep(5)")
            # The only connection is usable again at once.
            assert (await db.fetchrow("SELECT 1"))[0] == 1  # type: ignore[index]
        finally:
            await db.close()

    asyncio.run(attempt())
