"""The client installs from locks/client.txt alone and reads the live API in a venv with neither the API nor Dagster."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.history_api.conftest import KEY, LiveApi, api_db, live_api
from tests.packaging.test_history_api_alone import run

__all__ = ["api_db", "live_api"]  # the live API's fixtures

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "locks" / "client.txt"
# What the client's venv must not hold: the service, the shared core, the pipelines and the dev tools.
ABSENT = ("history_api", "vietmarket_core", "vietmarket_pipelines", "dagster", "litestar", "asyncpg", "pytest")

USE = """
import importlib.util, json, sys
from vietmarket_client import Client
url, key = sys.argv[1], sys.argv[2]
with Client(url, key) as client:
    frame = client.history("VCB", "1d", "2026-02-09", "2026-02-14")
    day = client.market("1d", "2026-02-13")
import vietmarket_client
print(json.dumps({
    "file": vietmarket_client.__file__,
    "dates": [str(d) for d in frame.index.date],
    "tz": str(frame.index.tz),
    "tickers": sorted(set(day.index.get_level_values("ticker"))),
    "present": [m for m in sys.argv[3:] if importlib.util.find_spec(m) is not None],
}))
"""


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with exactly locks/client.txt and the client, installed as `pip install ./packages/vietmarket-client`."""
    root = tmp_path_factory.mktemp("client-alone")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    pip = venv / "bin" / "pip"
    run(pip, "install", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps", "-r", LOCK, cwd=root)
    # Built from a copy: pip builds in the source tree, and the worktree must not collect build/ or egg-info.
    src = root / "src" / "vietmarket-client"
    shutil.copytree(
        REPO / "packages" / "vietmarket-client",
        src,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    run(pip, "install", "-q", "--disable-pip-version-check", "--no-deps", src, cwd=root)
    run(pip, "check", cwd=root)
    return venv


def test_the_installed_client_reads_the_live_api_alone(client_venv: Path, live_api: LiveApi) -> None:
    # -I: neither the working directory nor PYTHON* variables can put the worktree's sources on the path.
    result = run(client_venv / "bin" / "python", "-I", "-c", USE, live_api.url, KEY, *ABSENT, cwd=client_venv)
    report = json.loads(result.stdout)
    assert Path(report["file"]).is_relative_to(client_venv), f"{report['file']} is not the installed copy"
    assert report["dates"] == ["2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13"]
    assert report["tz"] == "Asia/Ho_Chi_Minh"
    assert report["tickers"] == ["SHB", "VCB", "VNINDEX"]
    assert report["present"] == [], f"importable in the client's venv: {report['present']}"
