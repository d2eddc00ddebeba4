"""The container tests' engine: one private dockerd for the session, its base image, and each image built once."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.modules import load_by_path

REPO = Path(__file__).resolve().parents[2]


def load_imagectl() -> ModuleType:
    return load_by_path("vietmarket_imagectl", REPO / "deploy" / "docker" / "imagectl.py")


imagectl = load_imagectl()


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A private dockerd under .data; at the end every container, image and mount of it must be gone.

    VIETMARKET_DOCKER_ROOT names an engine someone else started (`imagectl.py engine-start`), kept with its
    build cache between local runs; the tests then leave it running, but still remove their containers.
    """
    given = os.environ.get("VIETMARKET_DOCKER_ROOT")
    if given:
        kept = imagectl.Engine(Path(given))
        kept.start()
        imagectl.import_base(kept)
        yield kept
        assert not kept.docker("ps", "-aq", step="list containers").split(), "the tests left containers behind"
        return
    (REPO / ".data").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="docker-test-", dir=REPO / ".data"))
    engine = imagectl.Engine(root)
    try:
        engine.start()
        imagectl.import_base(engine)
        yield engine
    finally:
        leftovers = engine.stop()
        assert not leftovers, f"the container tests left behind: {leftovers}"


@pytest.fixture(scope="session")
def image(engine: Any) -> Callable[[str], str]:
    """Builds an image the first time a test asks for it; later tests reuse the build."""
    built: dict[str, str] = {}
    if os.environ.get("VIETMARKET_IMAGES_PREBUILD"):
        # `make test` started every build in the background (scripts/images.sh); a failure there is
        # reported by the build below, which then runs in the foreground and names the failing step.
        subprocess.run(["bash", str(REPO / "scripts" / "images.sh"), "wait"], check=False)
        for name in imagectl.IMAGES:
            ref = f"{name}:{imagectl.TAG}"
            if engine.image_exists(ref):
                built[name] = ref

    def build(name: str) -> str:
        if name not in built:
            started = time.monotonic()
            built[name] = imagectl.build(engine, name)
            size = imagectl.image_size_mb(engine, built[name])
            print(f"\nbuilt {built[name]}: {size:.0f} MB in {time.monotonic() - started:.0f} s")
        return built[name]

    return build


def compose(engine: Any, project: str, files: list[Path], *args: str, env: dict[str, str], timeout: float = 300) -> str:
    """docker-compose against the private engine; a failure names the command and shows its output."""
    cmd = ["docker-compose", "-p", project, *(a for f in files for a in ("-f", str(f))), *args]
    proc = subprocess.run(
        cmd, env={**engine.env(), **env}, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise imagectl.StepError(
            f"docker-compose {' '.join(args[:2])}",
            f"exit {proc.returncode}:\n{imagectl.tail(proc.stderr + proc.stdout)}",
        )
    return proc.stdout


def container_state(engine: Any, container: str) -> dict[str, Any]:
    import json

    out = engine.docker("inspect", "--format", "{{json .State}}", container, step=f"inspect {container}")
    state: dict[str, Any] = json.loads(out)
    return state
