"""The History API's real compose file, up in Docker against a TimescaleDB the test may stop and start.

The file runs as the owner runs it (host networking, as the Nomad job); the test only points its two
documented variables elsewhere: HISTORY_API_ENV_FILE at a throwaway .env and HISTORY_API_PORT at a free port.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.clusters import VCB_BAR_TS, ThrowawayCluster, cluster_with_one_bar, free_port
from tests.containers.conftest import compose, container_state, imagectl

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "history-api"
FILES = [DEPLOY / "docker-compose.yml"]
IMAGE = "vietmarket/history-api"


@dataclass(frozen=True)
class Stack:
    engine: Any
    cluster: ThrowawayCluster
    project: str
    container: str
    base_url: str
    key: str
    env: dict[str, str]


def wait_for_status(url: str, status: int, within_s: float, key: str = "", stack: Stack | None = None) -> float:
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < within_s:
        try:
            res = httpx.get(url, headers={"X-API-Key": key} if key else {}, timeout=3)
            if res.status_code == status:
                return time.monotonic() - started
            last = f"{res.status_code} {res.text[:200]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.25)
    logs = imagectl.last_logs(stack.engine, stack.container) if stack else ""
    raise AssertionError(f"{url} did not answer {status} within {within_s} s (last: {last}); container log:\n{logs}")


@pytest.fixture(scope="module")
def stack(engine: Any, image: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    image(IMAGE)
    project = f"vmtest{secrets.token_hex(3)}"
    with cluster_with_one_bar() as cluster:
        key = secrets.token_hex(16)
        port = free_port()
        env_file = tmp_path_factory.mktemp("compose") / "api.env"
        # The operator's .env, from the example, with this cluster and a fresh key in place of the placeholders.
        example = (DEPLOY / ".env.example").read_text()
        example = re.sub(r"(?m)^HISTORY_API_PG_URL=.*$", f"HISTORY_API_PG_URL={cluster.url()}", example)
        example = re.sub(r"(?m)^HISTORY_API_KEYS=.*$", f"HISTORY_API_KEYS={key}", example)
        env_file.write_text(example)
        env = {"HISTORY_API_ENV_FILE": str(env_file), "HISTORY_API_PORT": str(port)}
        try:
            compose(engine, project, FILES, "up", "-d", "--no-build", env=env)
            container = f"{project}_history-api_1"
            stack = Stack(engine, cluster, project, container, f"http://127.0.0.1:{port}", key, env)
            wait_for_status(f"{stack.base_url}/healthz", 200, 60, stack=stack)
            yield stack
        finally:
            # Also when the service never came up: no container may outlive the module.
            compose(engine, project, FILES, "down", "-v", "--timeout", "20", env=env)


def test_healthz_answers_200_with_the_old_db_field(stack: Stack) -> None:
    res = httpx.get(f"{stack.base_url}/healthz", timeout=5)
    assert res.status_code == 200
    assert res.json()["ok"] is True and res.json()["db"] == 1


def test_candles_need_the_key_from_the_env_file(stack: Stack) -> None:
    url = f"{stack.base_url}/candles?ticker=VCB&tf=1d"
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": "wrong" + stack.key}, timeout=5).status_code == 401
    res = httpx.get(url, headers={"X-API-Key": stack.key}, timeout=5)
    assert res.status_code == 200, res.text
    assert [row["ts"] for row in res.json()["rows"]] == [VCB_BAR_TS]


def test_the_container_runs_as_its_own_user_on_a_read_only_root(stack: Stack) -> None:
    assert stack.engine.docker("exec", stack.container, "id", "-u", step="id").strip() == "10001"
    write = subprocess.run(
        [imagectl.docker_bin(), "exec", stack.container, "touch", "/opt/venv/x"],
        env=stack.engine.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write
    inspect = stack.engine.docker("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", stack.container, step="ro")
    assert inspect.strip() == "true"


def test_the_compose_healthcheck_passes_inside_the_container(stack: Stack) -> None:
    service = yaml.safe_load(FILES[0].read_text())["services"]["history-api"]
    command = service["healthcheck"]["test"][1:]  # after CMD
    stack.engine.docker("exec", stack.container, *command, step="healthcheck command")


def test_a_stopped_database_is_503_and_its_return_recovers_without_a_restart(stack: Stack) -> None:
    before = container_state(stack.engine, stack.container)
    stack.cluster.stop()
    try:
        wait_for_status(f"{stack.base_url}/healthz", 503, 15, stack=stack)
        res = httpx.get(f"{stack.base_url}/candles?ticker=VCB&tf=1d", headers={"X-API-Key": stack.key}, timeout=5)
        assert res.status_code == 503
        assert res.json()["error"] == "db_unreachable"
        assert res.headers["retry-after"]
    finally:
        stack.cluster.start()
    recovered_s = wait_for_status(f"{stack.base_url}/candles?ticker=VCB&tf=1d", 200, 20, key=stack.key, stack=stack)
    after = container_state(stack.engine, stack.container)
    assert after["StartedAt"] == before["StartedAt"] and after["Pid"] == before["Pid"], "the container was restarted"
    assert after["Running"]
    print(f"\nrecovered {recovered_s:.1f} s after the database came back, same container process")


def test_the_funnel_step_points_at_the_address_compose_binds() -> None:
    service = yaml.safe_load(FILES[0].read_text())["services"]["history-api"]
    env = service["environment"]
    default_port = re.fullmatch(r"\$\{HISTORY_API_PORT:-(\d+)\}", env["PORT"])
    assert service["network_mode"] == "host" and default_port, env
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    targets = re.findall(r"tailscale funnel --bg (http://[\d.]+:\d+)", runbook)
    assert targets, "RUNBOOK.md has no `tailscale funnel --bg` step"
    assert set(targets) == {f"http://{env['HISTORY_API_HOST']}:{default_port[1]}"}
