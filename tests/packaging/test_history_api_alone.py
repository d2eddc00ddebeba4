"""The History API installs from its own hash-pinned set and runs in a venv without Dagster, pandas or the dev tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.clusters import free_port

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "locks" / "history-api.txt"
PACKAGES = ("vietmarket-core", "history-api")
# What the API's venv must not hold: the pipelines, their data stack, and the dev tools.
ABSENT = ("dagster", "pandas", "numpy", "vietmarket_pipelines", "pytest", "mypy", "playwright", "psycopg2")

IMPORT_CHECK = """
import importlib.util, json, sys
from history_api.app import create_app
from history_api.settings import Settings
app = create_app(Settings(pg_url="postgresql://nobody@127.0.0.1:1/none", api_keys=("k" * 24,)))
import history_api, vietmarket_core
print(json.dumps({
    "app": type(app).__module__ + "." + type(app).__qualname__,
    "files": [history_api.__file__, vietmarket_core.__file__],
    "present": [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None],
    "loaded": sorted(m for m in sys.argv[1:] if m in sys.modules),
}))
"""


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH or PIP_* leaking in from the test run; pip's own cache is kept, so a re-run is quick.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def locked_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name, _, rest = line.partition("==")
            pins[name.lower()] = rest.split(";")[0].split()[0]
    return pins


@pytest.fixture(scope="module")
def api_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with exactly locks/history-api.txt and the two packages, installed the way the image does."""
    root = tmp_path_factory.mktemp("history-api-alone")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    pip = venv / "bin" / "pip"
    run(pip, "install", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps", "-r", LOCK, cwd=root)
    # Built from copies: pip builds in the source tree, and the worktree must not collect build/ or egg-info.
    sources = []
    for name in PACKAGES:
        src = root / "src" / name
        shutil.copytree(
            REPO / "packages" / name,
            src,
            ignore=shutil.ignore_patterns("node_modules", "build", "*.egg-info", "__pycache__"),
        )
        sources.append(src)
    run(pip, "install", "-q", "--disable-pip-version-check", "--no-deps", *sources, cwd=root)
    return venv


def test_the_venv_holds_exactly_the_locked_set(api_venv: Path) -> None:
    run(api_venv / "bin" / "pip", "check", cwd=api_venv)
    listed = json.loads(run(api_venv / "bin" / "pip", "list", "--format=json", cwd=api_venv).stdout)
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in listed}
    bootstrap = {"pip", "setuptools"}  # what `python -m venv` puts there itself
    expected = locked_pins() | {name: "0.1.0" for name in PACKAGES}
    assert {k: v for k, v in installed.items() if k not in bootstrap} == expected


def test_history_api_app_imports_and_builds_without_dagster(api_venv: Path) -> None:
    # -I: neither the working directory nor PYTHON* variables can put the worktree's sources on the path.
    result = run(api_venv / "bin" / "python", "-I", "-c", IMPORT_CHECK, *ABSENT, cwd=api_venv)
    report = json.loads(result.stdout)
    assert report["app"] == "litestar.app.Litestar"
    for file in report["files"]:
        assert Path(file).is_relative_to(api_venv), f"{file} is not the installed copy"
    assert report["present"] == [], f"importable in the API's venv: {report['present']}"
    assert report["loaded"] == []


def test_the_installed_service_starts_and_answers_healthz(api_venv: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HISTORY_API", "PG_"))}
    # A database port nothing listens on: the service must still start and report db_unreachable.
    env |= {"HISTORY_API_PG_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none"}
    env |= {"HISTORY_API_KEYS": "k" * 24, "PORT": str(port), "HISTORY_API_HOST": "127.0.0.1", "LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [str(api_venv / "bin" / "history-api")], cwd=api_venv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except urllib.error.HTTPError as exc:
                status, body = exc.code, json.loads(exc.read())
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0].decode(errors="replace")
                assert time.monotonic() < deadline, "the installed history-api never listened"
                time.sleep(0.2)
            else:
                pytest.fail("healthz answered 200 without a database")
        assert status == 503
        assert json.dumps(body).count("db_unreachable") >= 1, body
    finally:
        server.terminate()
        server.wait(timeout=10)
