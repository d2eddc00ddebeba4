"""The database going away and coming back: 503 db_unreachable meanwhile, recovery with no restart.

These stop and start a throwaway TimescaleDB cluster of their own, never the shared project cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg2
import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from tests.clusters import ThrowawayCluster, cluster_with_one_bar
from tests.history_api.conftest import KEY, Client, api_settings

DATA_PATHS = [
    *("/candles?ticker=VCB&tf=1d", "/latest?tf=1d", "/symbols", "/news/latest", "/udf/search?query=V"),
    *("/candles/bulk?tickers=VCB&tf=1d", "/export?tf=1d&from=0&to=9999999999999"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    with cluster_with_one_bar() as cluster:
        yield cluster


def wait_for(client: Client, path: str, status: int, within_s: float = 15.0) -> float:
    started = time.monotonic()
    while True:
        res = client.get(path)
        if res.status_code == status:
            return time.monotonic() - started
        # While the server comes back, the only acceptable answer is the documented 503.
        assert res.status_code == 503 and res.json()["error"] == "db_unreachable", res.text
        if time.monotonic() - started > within_s:
            raise AssertionError(f"{path} still {res.status_code} {res.text} after {within_s} s; wanted {status}")
        time.sleep(0.2)


def assert_db_unreachable(client: Client) -> None:
    for path in ["/healthz", *DATA_PATHS]:
        res = client.get(path)
        assert res.status_code == 503, (path, res.text)
        assert res.json() == {
            "ok": False,
            "error": "db_unreachable",
            "detail": "the database cannot be reached; retry shortly",
        }
        assert res.headers["retry-after"] == "5"


def test_stop_gives_503_and_a_restart_recovers_without_restarting_the_service(cluster: ThrowawayCluster) -> None:
    with TestClient(create_app(api_settings(cluster.url()))) as client:
        client.headers["X-API-Key"] = KEY
        assert client.get("/healthz").json()["latestDailyTs"] == 1770940800000
        assert client.get(DATA_PATHS[0]).json()["count"] == 1

        cluster.stop()
        try:
            assert_db_unreachable(client)
        finally:
            cluster.start()

        wait_for(client, DATA_PATHS[1], 200)
        # Every pooled connection died with the server; each is replaced, not reported.
        for path in DATA_PATHS * 3:
            assert client.get(path).status_code == 200, path
        assert client.get(DATA_PATHS[0]).json()["rows"][0]["c"] == 64.4


def test_a_service_that_starts_while_the_database_is_down_connects_when_it_returns(cluster: ThrowawayCluster) -> None:
    cluster.stop()
    try:
        with TestClient(create_app(api_settings(cluster.url()))) as client:
            client.headers["X-API-Key"] = KEY
            assert_db_unreachable(client)
            cluster.start()
            # No health check first: the very first data request after the return must succeed or 503.
            wait_for(client, DATA_PATHS[0], 200)
            assert client.get(DATA_PATHS[0]).json()["count"] == 1
    finally:
        if not (cluster.data / "postmaster.pid").exists():
            cluster.start()


def test_a_wrong_password_is_db_unreachable_not_a_crash(cluster: ThrowawayCluster) -> None:
    conn = psycopg2.connect(cluster.url())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS pw_reader")
        cur.execute("CREATE ROLE pw_reader LOGIN PASSWORD 'right-password'")
        cur.execute("ALTER SYSTEM SET password_encryption = 'scram-sha-256'")
    conn.close()
    hba = cluster.data / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("host all pw_reader 127.0.0.1/32 scram-sha-256\n" + original)
    cluster.reload()
    try:
        url = f"postgresql://pw_reader:wrong-password@127.0.0.1:{cluster.port}/postgres"
        with TestClient(create_app(api_settings(url))) as client:
            assert client.get("/healthz").json()["error"] == "db_unreachable"
    finally:
        hba.write_text(original)
        cluster.reload()
