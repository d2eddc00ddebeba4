"""A real Dagster deployment for tests and benchmarks: dagster-webserver and dagster-daemon on a
Postgres-backed instance, driven through the webserver's GraphQL API as the UI drives it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(os.environ.get("VENV", REPO_ROOT / ".venv")) / "bin"
LOCATION = {"repositoryLocationName": "vietmarket_pipelines", "repositoryName": "__repository__"}

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions runs(limit: 1000) { id status } }
    ... on PythonError { message }
  }
}"""
ADD_PARTITION = """
mutation($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on PythonError { message }
    ... on DuplicateDynamicPartitionError { partitionName }
  }
}"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { id } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
RUN_STATUS = """
query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status startTime endTime } } }"""
LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RssSampler:
    """Samples the resident memory of one Dagster deployment's run worker processes while it runs."""

    # The deployment's process groups: another deployment's runs (a parallel test) are not this one's.
    groups: frozenset[int]
    interval_s: float = 0.25
    peak_single_mb: float = 0.0
    peak_total_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0.0
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                try:
                    if os.getpgid(proc.pid) not in self.groups:
                        continue
                except ProcessLookupError:
                    continue
                cmd = " ".join(proc.info.get("cmdline") or [])
                # Runs and steps are spawned through multiprocessing by the code server.
                if "spawn_main" in cmd or "execute_run" in cmd or "execute_step" in cmd:
                    mb = proc.info["memory_info"].rss / 2**20 if proc.info.get("memory_info") else 0.0
                    total += mb
                    self.peak_single_mb = max(self.peak_single_mb, mb)
            self.peak_total_mb = max(self.peak_total_mb, total)
            time.sleep(self.interval_s)


def seed_symbols(dsn: str, exchanges: dict[str, str]) -> None:
    """Marks the tickers active in `symbols` with their exchange, as the universe asset would:
    the checks judge each series on its exchange's bar grid."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO symbols (ticker, exchange, active) "
            "SELECT unnest(%s::text[]), unnest(%s::text[]), true ON CONFLICT DO NOTHING",
            (list(exchanges), list(exchanges.values())),
        )
    conn.close()


class DagsterClient:
    """The webserver's GraphQL API as the UI drives it, wherever the webserver runs (a process, a container)."""

    def __init__(self, url: str, where_logs_are: Callable[[], str] | None = None) -> None:
        self.url = url
        # What a timeout message points at: each way of running Dagster knows where its logs are.
        self.where_logs_are = where_logs_are or (lambda: f"the webserver at {url}")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]  # type: ignore[no-any-return]

    def add_partitions(self, partitions_def: str, keys: list[str]) -> None:
        for key in keys:
            result = self.graphql(ADD_PARTITION, {"selector": LOCATION, "name": partitions_def, "key": key})
            kind = result["addDynamicPartition"]["__typename"]
            if kind not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
                raise RuntimeError(f"adding partition {key}: {result}")

    def launch_backfill(self, asset: str, partition_names: list[str], run_config: dict[str, Any] | None = None) -> str:
        """What the asset page's Materialize button sends for a selection of partitions."""
        params: dict[str, Any] = {
            "assetSelection": [{"path": [asset]}],
            "partitionNames": partition_names,
            "fromFailure": False,
        }
        if run_config:
            params["runConfigData"] = run_config
        result = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill was not launched: {result}")
        return str(result["backfillId"])

    def launch_run(self, job: str, tags: dict[str, str], run_config: dict[str, Any] | None = None) -> str:
        """A job run with tags, as a schedule's RunRequest becomes one."""
        params = {
            "selector": {**LOCATION, "jobName": job},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = self.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"run was not launched: {result}")
        return str(result["run"]["id"])

    def wait_runs(self, run_ids: list[str], timeout_s: float = 600) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            statuses = {rid: self.graphql(RUN_STATUS, {"id": rid})["runOrError"]["status"] for rid in run_ids}
            if all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses.values()):
                return statuses
            time.sleep(0.5)
        raise TimeoutError(f"runs {run_ids} did not finish within {timeout_s} s; {self.where_logs_are()}")

    def run_span(self, run_id: str) -> tuple[float, float]:
        """When the run worker started and ended (unix seconds)."""
        run = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
        return float(run["startTime"]), float(run["endTime"])

    def wait_backfill(self, backfill_id: str, timeout_s: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            backfill = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                runs = backfill["runs"]
                if all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
                    return backfill  # type: ignore[no-any-return]
            time.sleep(1)
        raise TimeoutError(f"backfill {backfill_id} did not finish within {timeout_s} s; {self.where_logs_are()}")


class DagsterStack:
    """Starts the webserver and the daemon with their own DAGSTER_HOME; stops everything it started.
    `client` drives the webserver it started."""

    def __init__(self, dagster_pg_url: str, env: dict[str, str]) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="vm-dagster-home-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = DagsterClient(self.url, lambda: f"logs in {self.home}")
        self.env = {
            # Batched event writes, as scripts/stack.sh and the Nomad jobs set them.
            "DAGSTER_EVENT_BATCH_SIZE": "500",
            **os.environ,
            **env,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_URL": dagster_pg_url,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def __enter__(self) -> DagsterStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.home / f"{name}.log"
        self.logs.append(log)
        self.procs.append(
            subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def start(self, timeout_s: float = 120) -> None:
        shutil.copy(REPO_ROOT / "dagster.yaml", self.home / "dagster.yaml")
        workspace = str(REPO_ROOT / "workspace.yaml")
        self._spawn(
            "webserver", [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", workspace]
        )
        self._spawn("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for proc, log in zip(self.procs, self.logs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"{log.stem} exited during start-up:\n{log.read_text()[-3000:]}")
            try:
                data = self.client.graphql(LOCATION_STATUS)
                entries = data["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["loadStatus"] == "LOADED":
                    location = entries[0]["locationOrLoadError"]
                    if location["__typename"] == "PythonError":
                        raise RuntimeError(f"code location failed to load: {location['message']}")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Dagster did not come up within {timeout_s} s; logs in {self.home}")

    def process_groups(self) -> frozenset[int]:
        """The groups of the webserver and the daemon, which their code servers and run workers join."""
        return frozenset(proc.pid for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            # Code servers and run workers share the group; none may outlive the stack.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def add_partitions_in_process(self, partitions_def: str, keys: list[str]) -> None:
        """Bulk set-up through the instance API; GraphQL adds one key per call."""
        from dagster import DagsterInstance

        previous = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"], os.environ["DAGSTER_PG_URL"] = str(self.home), self.env["DAGSTER_PG_URL"]
        try:
            with DagsterInstance.get() as instance:
                instance.add_dynamic_partitions(partitions_def, keys)
        finally:
            if previous is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = previous

    def screenshot(self, path: str, out: Path, wait_ms: int = 15000) -> Path:
        """The page as a person sees it, from the system Chromium (no browser download)."""
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise RuntimeError("chromium is not installed; scripts/install-system-packages.sh installs it")
        out.parent.mkdir(parents=True, exist_ok=True)
        profile = tempfile.mkdtemp(prefix="vm-chromium-")
        subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1440,1000",
                f"--virtual-time-budget={wait_ms}", f"--screenshot={out}", f"{self.url}{path}",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(profile, ignore_errors=True)
        return out
