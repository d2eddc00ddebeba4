"""The shared request budget: several processes' clients together stay within one provider budget."""

from __future__ import annotations

import itertools
import multiprocessing
import time

import psycopg2
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import MigratedDatabase
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient
from vietmarket_pipelines.providers.pacing import SharedPacer

FAST = HttpPolicy(requests=100, per_seconds=1, timeout_s=2, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)


def _acquire_many(dsn: str, provider: str, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    pacer = SharedPacer(dsn, requests=10, per_seconds=1.0)
    try:
        for _ in range(n):
            pacer.acquire(provider)
            out.put(time.time())
    finally:
        pacer.close()


def test_processes_share_one_budget_per_provider(db: MigratedDatabase) -> None:
    # Three worker processes, 8 requests each, against a budget of 10 per second in total.
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_acquire_many, args=(db.writer_dsn, "vci-test", 8, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    sends = sorted(out.get(timeout=5) for _ in range(24))
    # Evenly spaced: no second holds more than 10 of them (less the few ms a sleeper may wake late
    # next to one that woke on time), and 24 sends span at least 2.2 s.
    assert max(sum(1 for t in sends if s <= t < s + 0.95) for s in sends) <= 10
    assert sends[-1] - sends[0] >= 2.2


def test_providers_have_separate_budgets(db: MigratedDatabase) -> None:
    a, b = SharedPacer(db.writer_dsn, 2, 1.0), SharedPacer(db.writer_dsn, 2, 1.0)
    try:
        started = time.monotonic()
        for _ in range(2):
            a.acquire("ssi-test")
            b.acquire("vndirect-test")
        # Two requests each at one per 0.5 s: about 0.5 s, not the 1.5 s a single budget would take.
        assert time.monotonic() - started < 1.2
    finally:
        a.close()
        b.close()


def test_a_client_paces_through_the_shared_budget_and_survives_a_dropped_connection(
    db: MigratedDatabase, httpserver: HTTPServer
) -> None:
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        return Response("[]", 200)

    httpserver.expect_request("/x").respond_with_handler(handler)
    pacer = SharedPacer(db.writer_dsn, requests=4, per_seconds=1.0)
    with ProviderClient("client-test", httpserver.url_for(""), policy=FAST, pacer=pacer) as client:
        client.request_json("GET", "/x", what="test")
        # The pacing connection is killed from outside, as a database restart would.
        admin = psycopg2.connect(db.admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'vietmarket-pacing' AND datname = current_database()"
            )
        admin.close()
        for _ in range(4):
            client.request_json("GET", "/x", what="test")
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert len(seen) == 5 and min(gaps) >= 0.2, gaps
    assert pacer._conn is None, "the client closes its pacer"
