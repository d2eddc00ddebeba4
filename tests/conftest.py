"""Session fixtures: a fresh, fully migrated database on the project's TimescaleDB cluster."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import psycopg2
import psycopg2.extensions
import pytest

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.simulator.server import SimulatorServer, start_in_thread
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

if TYPE_CHECKING:
    from collections.abc import Mapping

    import dagster as dg

# Step retries wait tens of seconds; the tests look at the first failure.  Set before any
# definitions module is imported.
os.environ.setdefault("VIETMARKET_STEP_RETRIES", "0")


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run the suite with `make test`, which starts the project's "
            "TimescaleDB cluster and exports its URLs"
        )
    return value


@dataclass(frozen=True)
class MigratedDatabase:
    name: str
    # URLs carry passwords; keep them out of reprs, which pytest prints on failure.
    admin_dsn: str = field(repr=False)
    writer_dsn: str = field(repr=False)
    reader_dsn: str = field(repr=False)

    def connect(self, role: str = "admin") -> psycopg2.extensions.connection:
        dsn = {"admin": self.admin_dsn, "writer": self.writer_dsn, "reader": self.reader_dsn}[role]
        return psycopg2.connect(dsn)


@pytest.fixture(scope="session")
def admin_url() -> str:
    return require_env("VIETMARKET_ADMIN_PG_URL")


@pytest.fixture(scope="session")
def db(admin_url: str) -> Iterator[MigratedDatabase]:
    """A throwaway database with the canonical schema and every migration applied."""
    name = f"vm_test_{os.getpid()}_{secrets.token_hex(3)}"
    create_database(admin_url, name)
    try:
        migrate(with_database(admin_url, name))
        yield MigratedDatabase(
            name=name,
            admin_dsn=with_database(admin_url, name),
            writer_dsn=with_database(require_env("VIETMARKET_PG_URL"), name),
            reader_dsn=with_database(require_env("HISTORY_API_PG_URL"), name),
        )
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def clean_db(db: MigratedDatabase) -> MigratedDatabase:
    """The session database with every candle, latest, symbol, article and daily price removed."""
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "TRUNCATE candles_1d, candles_1h, candles_15m, candles_latest, symbols, "
            "article_symbols, articles, news_crawl_state, convex_mirror_state, convex_budget, "
            "daily_prices, corporate_actions, series_restatements, trading_calendar, trading_calendar_refresh"
        )
    conn.close()
    return db


# The simulated market's clock: Friday 2026-02-13, after the close.
SIM_NOW = datetime(2026, 2, 13, 16, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    """The market-data stand-in on a loopback port, for the whole session."""
    server = start_in_thread(now=SIM_NOW)
    yield server
    server.shutdown()


@pytest.fixture
def sim(simulator: SimulatorServer) -> Iterator[SimulatorServer]:
    """The simulator with no faults before and after the test."""
    httpx.delete(f"{simulator.url}/_sim/faults")
    yield simulator
    httpx.delete(f"{simulator.url}/_sim/faults")


def inject(server: SimulatorServer, **rule: Any) -> None:
    response = httpx.post(f"{server.url}/_sim/faults", json=rule)
    response.raise_for_status()


def metadata_values(metadata: Mapping[str, dg.MetadataValue]) -> dict[str, Any]:
    """A materialization's or a check's metadata as the plain values it was given (counts, dates, lists)."""
    return {k: v.value for k, v in metadata.items()}


CONTAINER_TESTS = "tests/containers/"
# Fixtures that start one machine-wide resource, and the folder whose tests alone may use them: the
# private dockerd under .data; the HA harness's fixed loopback ports and .data/ha.  Each folder is one
# unit, run on one xdist worker test after test; any other module is its own unit, so that its module
# fixtures are built once.
MACHINE_WIDE = {"engine": CONTAINER_TESTS, "ha": "tests/failover/"}
# The longest units go first, so that the second worker is not left idle at the end.  The container
# tests still start last: `make test` builds their images meanwhile.
LONGEST_FIRST = ("tests/bench/test_market_bench.py", "tests/e2e/", "tests/failover/", "tests/packaging/")
FIGURES = "figures"


def unit_of(nodeid: str) -> str:
    """The scheduling unit of a test: its machine-wide folder, or its module."""
    for folder in MACHINE_WIDE.values():
        if nodeid.startswith(folder):
            return folder
    return nodeid.split("::", 1)[0]


def check_machine_wide(nodeid: str, fixturenames: Iterable[str]) -> None:
    for fixture, folder in MACHINE_WIDE.items():
        if fixture in fixturenames and not nodeid.startswith(folder):
            raise pytest.UsageError(
                f"{nodeid} uses the machine-wide `{fixture}` fixture outside {folder}: "
                "a second worker would start it beside the first"
            )


def run_order(item: pytest.Item) -> tuple[int, int]:
    if item.nodeid.startswith(CONTAINER_TESTS):
        return (2, 0)
    heavy = next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), None)
    return (1, 0) if heavy is None else (0, heavy)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Machine-wide fixtures stay in their folders; the units run longest first, the container tests last."""
    for item in items:
        check_machine_wide(item.nodeid, getattr(item, "fixturenames", ()))
        if item.nodeid.startswith(CONTAINER_TESTS):
            item.add_marker(pytest.mark.containers)
    items.sort(key=run_order)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole units to each worker, in collection order (scripts/test.sh passes --no-loadscope-reorder)."""
    from xdist.scheduler import LoadScopeScheduling

    # xdist's own loadgroup mode is this same subclass; it ships no type information.
    class ResourceScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return ResourceScheduling(config, log)


@pytest.fixture
def show_printed(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """What the test has printed so far (a benchmark's or a drill's figures), returned and shown in the
    run's summary: a print of an xdist worker never reaches the terminal."""

    def show() -> str:
        printed = capsys.readouterr().out
        request.node.user_properties.append((FIGURES, printed))
        return printed

    return show


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shown = [
        (report.nodeid, value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for key, value in report.user_properties
        if key == FIGURES
    ]
    if shown:
        # At CI size these keep the benchmarks from rotting; with a second worker sharing the machine
        # their ratios are not the figures to quote, which come from `make bench` on an idle machine.
        workers = terminalreporter.config.getoption("numprocesses", None) or 1
        terminalreporter.section(f"benchmark and drill figures (CI size, {workers} worker(s) sharing the machine)")
        for nodeid, text in shown:
            terminalreporter.write_line(f"{nodeid}\n{text.strip()}\n")
