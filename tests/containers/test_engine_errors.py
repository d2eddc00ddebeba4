"""The image pipeline's failures name their step: the mirror debootstrap could not reach, the Dockerfile step, the
container that exited, with the evidence attached."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.containers.conftest import imagectl

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_debootstrap_against_an_unreachable_mirror_says_so_and_leaves_no_tarball() -> None:
    mirror = f"http://127.0.0.1:{closed_port()}/debian"
    with pytest.raises(imagectl.StepError) as failure:
        imagectl.base_tarball(mirror)
    assert failure.value.step == "base image"
    assert mirror in str(failure.value) and "reach the mirror" in str(failure.value)
    assert not list(imagectl.CACHE.glob(f"base-*-{imagectl.base_key(mirror)}.tar"))
    assert not list(imagectl.CACHE.glob("base-*/")), "the debootstrap work folder was left behind"


def test_a_failing_dockerfile_step_is_named_with_its_output(engine: Any, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo the-step-before\n"
        "RUN echo the-evidence && exit 3\nRUN echo never\n"
    )
    ref = f"vietmarket/broken-{secrets.token_hex(3)}:test"
    with pytest.raises(imagectl.StepError) as failure:
        imagectl.build_dockerfile(engine, ref, str(dockerfile), imagectl.BASE_IMAGE, tmp_path / "build.log")
    message = str(failure.value)
    assert failure.value.step == f"build {ref.rsplit(':', 1)[0]}"
    assert "failed at step 4/5 (RUN echo the-evidence && exit 3)" in message
    assert "the-evidence" in message and "Step 5/5" not in message
    assert not engine.image_exists(ref)
    # --force-rm: the failed step's container is gone too.
    assert not engine.docker("ps", "-aq", step="list containers").split()


def test_a_container_that_exits_is_reported_with_its_last_log_lines(engine: Any) -> None:
    name = f"vm-exits-{secrets.token_hex(3)}"
    engine.docker(
        "run", "-d", "--network", "host", "--name", name, imagectl.BASE_IMAGE,
        "sh", "-c", "echo starting; echo cannot-open-config >&2; exit 7",
        step="run",
    )  # fmt: skip
    try:
        with pytest.raises(imagectl.StepError) as failure:
            imagectl.wait_running(engine, name, within_s=15)
        assert f"container {name}" == failure.value.step
        assert "exited with code 7" in str(failure.value) and "cannot-open-config" in str(failure.value)
    finally:
        engine.docker("rm", "-f", name, step="remove")
