"""Creating and dropping whole databases on a cluster, for tests, benchmarks and set-up tools."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return urlsplit(url)._replace(path=f"/{dbname}").geturl()


def _on_server(admin_url: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(with_database(admin_url, "postgres"))
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def database_exists(admin_url: str, dbname: str) -> bool:
    conn = psycopg2.connect(with_database(admin_url, "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def drop_database(admin_url: str, dbname: str) -> None:
    _on_server(admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def create_database(admin_url: str, dbname: str, *, replace: bool = False) -> str:
    """Creates `dbname` (dropping it first when `replace`) and returns its URL."""
    if replace:
        drop_database(admin_url, dbname)
    _on_server(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return with_database(admin_url, dbname)
