"""Static checks of deploy/history-api: compose, Dockerfile, .env.example and RUNBOOK.md agree with the code.

No database, Docker daemon or network needed; hadolint and `docker compose` are used only when installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from history_api.settings import ENVIRONMENT, Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "history-api"


def _as_env_text(value: object) -> str:
    """A Settings default written as its variable would be: True as 1, a tuple comma-separated."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def env_vars_read_by_code() -> dict[str, set[str]]:
    """Every variable name the service reads, with the default the code gives it (may be empty).

    history_api.settings.ENVIRONMENT is the one table of the variables, and Settings' field defaults
    are the only defaults, so both come from there.
    """
    defaults = {f.name: _as_env_text(f.default) for f in fields(Settings)}
    return {var.name: {defaults[var.field]} - {""} for var in ENVIRONMENT}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM this instruction belongs to


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuations joined; comment lines (also inside a continuation) and blanks dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final_stage(dockerfile: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in dockerfile)
    return [i for i in dockerfile if i.stage == last]


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    svc: dict[str, Any] = compose["services"]["history-api"]
    return svc


@pytest.fixture(scope="module")
def runbook() -> str:
    return (DEPLOY / "RUNBOOK.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def env_example() -> str:
    return (DEPLOY / ".env.example").read_text(encoding="utf-8")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


# --- docker-compose.yml


def test_compose_binds_loopback_8787_only_on_the_host_network(service: dict[str, Any]) -> None:
    assert service["network_mode"] == "host"
    assert "ports" not in service, "host networking publishes nothing; the process binds loopback itself"
    env = _environment(service)
    assert env["HISTORY_API_HOST"] == "127.0.0.1"
    assert env["PORT"] == "${HISTORY_API_PORT:-8787}"


def test_compose_reads_env_file_and_keeps_the_listener_on_loopback(service: dict[str, Any]) -> None:
    assert _as_list(service["env_file"]) == ["${HISTORY_API_ENV_FILE:-.env}"]
    # `environment` wins over env_file, so .env cannot move the listener off loopback.
    assert _environment(service)["HISTORY_API_HOST"] == "127.0.0.1"


def test_compose_healthcheck_hits_healthz(service: dict[str, Any]) -> None:
    test = service["healthcheck"]["test"]
    assert "/healthz" in " ".join(_as_list(test))
    assert "curl" not in " ".join(_as_list(test)), "the slim image has no curl"


def test_compose_builds_from_repo_root_with_this_dockerfile(service: dict[str, Any]) -> None:
    build = service["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()


def test_compose_hardening(service: dict[str, Any]) -> None:
    assert service["restart"] == "unless-stopped"
    assert service["read_only"] is True
    assert any(str(t).split(":")[0] == "/tmp" for t in _as_list(service["tmpfs"]))
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["deploy"]["resources"]["limits"]["memory"]
    assert service["logging"]["options"]["max-size"]


# --- Dockerfile


def test_dockerfile_has_the_expected_instructions(dockerfile: list[Instruction]) -> None:
    keywords = {i.keyword for i in dockerfile}
    assert {"FROM", "RUN", "COPY", "EXPOSE", "HEALTHCHECK", "CMD", "USER"} <= keywords


def build_args(dockerfile: list[Instruction]) -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults."""
    return dict(i.args.partition("=")[::2] for i in dockerfile if i.keyword == "ARG" and i.stage == -1)


def test_dockerfile_is_multi_stage_chart_then_python_all_on_the_base_arg(dockerfile: list[Instruction]) -> None:
    images = [i.args.split()[0] for i in dockerfile if i.keyword == "FROM"]
    # Every stage takes its base from the build ARG, so a locally bootstrapped Debian image can stand in
    # where no registry is reachable (deploy/docker/imagectl.py).
    assert images == ["${BASE_IMAGE}"] * 3
    assert build_args(dockerfile)["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    assert any(
        "chart_modules.py package-lock.json" in i.args for i in dockerfile if i.keyword == "RUN" and i.stage == 0
    )


def test_dockerfile_installs_the_hash_pinned_api_set_and_the_two_packages_only(
    dockerfile: list[Instruction],
) -> None:
    runs = " ".join(i.args for i in dockerfile if i.keyword == "RUN")
    assert "--require-hashes --no-deps -r locks/history-api.txt" in runs
    assert "--no-deps ./packages/vietmarket-core ./packages/history-api" in runs
    assert "pip check" in runs
    # Everything taken from the build context (the last word of a COPY is its destination): no
    # vietmarket_pipelines, no root pyproject.toml, no other lock.
    copied = {
        source
        for i in dockerfile
        if i.keyword == "COPY" and not i.args.startswith("--from=")
        for source in i.args.split()[:-1]
    }
    assert copied == {
        "locks/history-api.txt",
        "packages/vietmarket-core",
        "packages/history-api",
        "packages/history-api/src/history_api/chart/package.json",
        "packages/history-api/src/history_api/chart/package-lock.json",
        "deploy/history-api/chart_modules.py",
    }
    for source in copied:
        assert (REPO / source).exists(), source


def test_final_stage_serves_8787_as_non_root(final_stage: list[Instruction]) -> None:
    assert [i.args for i in final_stage if i.keyword == "EXPOSE"] == ["8787"]
    users = [i.args for i in final_stage if i.keyword == "USER"]
    assert users, "the final stage never leaves root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    cmd = [i.args for i in final_stage if i.keyword == "CMD"]
    assert cmd == ['["history-api"]']
    health = [i.args for i in final_stage if i.keyword == "HEALTHCHECK"]
    assert len(health) == 1
    assert "/healthz" in health[0]
    assert "curl" not in health[0]


def test_final_stage_gets_the_chart_node_modules(final_stage: list[Instruction]) -> None:
    copies = [i.args for i in final_stage if i.keyword == "COPY" and "node_modules" in i.args]
    assert copies
    assert all(c.startswith("--from=") for c in copies)
    assert any(c.rstrip().endswith("site-packages/history_api/chart/node_modules") for c in copies)


def test_dockerfile_never_pipes_a_download_into_a_shell(dockerfile: list[Instruction]) -> None:
    for run in (i.args for i in dockerfile if i.keyword == "RUN"):
        assert not re.search(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|da|z)?sh\b", run), run


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for must in (".git", ".venv", ".data", "artifacts"):
        assert must in patterns, must
    assert patterns & {"node_modules", "**/node_modules"}


# --- environment: .env.example and RUNBOOK.md cover what the code reads


def test_the_code_scan_finds_the_known_variables() -> None:
    # Guards the scan: if it found nothing, the tests below would pass vacuously.
    names = env_vars_read_by_code()
    assert {"HISTORY_API_PG_URL", "HISTORY_API_KEYS", "PORT", "PG_POOL_MAX", "LOG_LEVEL"} <= names.keys()


@pytest.mark.parametrize("name", sorted(env_vars_read_by_code()))
def test_every_variable_is_in_env_example(name: str, env_example: str) -> None:
    assert re.search(rf"^#?\s*{name}=", env_example, re.MULTILINE), f"{name} missing from .env.example"


@pytest.mark.parametrize("name", sorted(env_vars_read_by_code()))
def test_every_variable_is_in_the_runbook_with_the_code_default(name: str, runbook: str) -> None:
    row = re.search(rf"^\| `{name}` \|([^|]*)\|", runbook, re.MULTILINE)
    assert row, f"{name} has no row in RUNBOOK.md's environment table"
    for default in env_vars_read_by_code()[name]:
        documented = row.group(1).lower()
        assert f"`{default.lower()}`" in documented, f"{name}: the code's default {default!r} is not in the table"


def test_env_example_names_only_known_variables_and_holds_no_secrets(env_example: str) -> None:
    known = env_vars_read_by_code()
    assignments = dict(
        line.split("=", 1) for line in env_example.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    assert set(assignments) <= known.keys(), set(assignments) - known.keys()
    for key in assignments["HISTORY_API_KEYS"].split(","):
        assert key.startswith("CHANGE_ME"), "HISTORY_API_KEYS in .env.example must be placeholders"
    assert ":CHANGE_ME@" in assignments["HISTORY_API_PG_URL"]
    assert ":5434/" in assignments["HISTORY_API_PG_URL"], "the read-only API goes to HAProxy's replica port"
    assert assignments.get("HISTORY_API_TOKEN_SECRET", "") == ""


def test_dot_env_is_git_ignored_and_the_example_is_not() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        return subprocess.run([git, "-C", str(REPO), "check-ignore", "-q", path], capture_output=True).returncode == 0

    assert ignored("deploy/history-api/.env")
    assert not ignored("deploy/history-api/.env.example")


# --- RUNBOOK.md


@pytest.mark.parametrize(
    "text",
    [
        "tailscale serve reset",
        "tailscale funnel --bg http://127.0.0.1:8787",
        "tailscale funnel status",
        "db_unreachable",
        "query_timeout",
        "curl -fsS http://127.0.0.1:8787/healthz",
        "pg_isready",
        "patronictl",
        "vietmarket_reader",
        "#token=",
        "POST /chart-token",
    ],
)
def test_runbook_mentions(text: str, runbook: str) -> None:
    assert text in runbook


def test_runbook_funnel_steps_come_in_order(runbook: str) -> None:
    assert runbook.index("tailscale serve reset") < runbook.index("tailscale funnel --bg http://127.0.0.1:8787")
