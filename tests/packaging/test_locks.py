"""The committed locks are uv's exports of uv.lock, and uv.lock matches the pyproject.toml files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK_SH = REPO / "scripts" / "lock.sh"
SETS = ("pipelines", "history-api", "client", "dev")


def check(locks_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VENV=str(Path(sys.executable).parents[1]))
    if locks_dir is not None:
        env["LOCKS_DIR"] = str(locks_dir)
    return subprocess.run(
        ["bash", str(LOCK_SH), "--check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_committed_locks_are_the_export_of_uv_lock() -> None:
    result = check()
    assert result.returncode == 0, result.stderr


def test_a_stale_lock_fails_the_check(tmp_path: Path) -> None:
    # The same check on a copy with one pin dropped: proves it compares the files, byte for byte.
    for name in SETS:
        shutil.copy(REPO / "locks" / f"{name}.txt", tmp_path / f"{name}.txt")
    api = tmp_path / "history-api.txt"
    lines = api.read_text(encoding="utf-8").splitlines(keepends=True)
    pin = next(i for i, line in enumerate(lines) if line.startswith("litestar=="))
    api.write_text("".join(lines[:pin] + lines[pin + 1 :]), encoding="utf-8")
    result = check(tmp_path)
    assert result.returncode != 0
    assert "locks/history-api.txt is not the export of uv.lock" in result.stderr
    assert "-litestar==" not in result.stderr and "+litestar==" in result.stderr
    for name in ("pipelines", "client", "dev"):
        assert f"locks/{name}.txt is not" not in result.stderr


def test_every_pin_is_hashed_and_each_set_holds_only_its_own() -> None:
    for name in SETS:
        text = (REPO / "locks" / f"{name}.txt").read_text(encoding="utf-8")
        pins = [line for line in text.splitlines() if line and not line[0].isspace() and not line.startswith("#")]
        assert pins, name
        for pin in pins:
            assert "==" in pin and pin.rstrip().endswith("\\"), f"{name}: {pin} is not pinned with hashes"
    api = (REPO / "locks" / "history-api.txt").read_text(encoding="utf-8")
    for absent in ("dagster", "pandas", "numpy", "pytest", "mypy", "playwright", "ruff", "psycopg2-binary"):
        assert f"\n{absent}==" not in api, f"{absent} is in the History API's set"
    pipelines = (REPO / "locks" / "pipelines.txt").read_text(encoding="utf-8")
    for absent in ("litestar", "asyncpg", "pytest", "mypy", "playwright", "ruff"):
        assert f"\n{absent}==" not in pipelines, f"{absent} is in the pipelines' set"
    client = (REPO / "locks" / "client.txt").read_text(encoding="utf-8")
    for absent in ("dagster", "litestar", "asyncpg", "uvicorn", "psycopg2-binary", "pytest", "mypy", "ruff"):
        assert f"\n{absent}==" not in client, f"{absent} is in the client's set"
    for present in ("httpx", "pandas", "pyarrow"):
        assert f"\n{present}==" in client, f"{present} is missing from the client's set"
