"""The platform's images where no registry or bridge exists: a private dockerd, a debootstrapped base, the builds.

Stdlib only, so it runs before any venv exists.  The tests import it by path (as they do hactl.py).

    python deploy/docker/imagectl.py engine-start      a private dockerd (host networking only); prints DOCKER_HOST
    python deploy/docker/imagectl.py base              the base image from debootstrap (cached in .cache/docker)
    python deploy/docker/imagectl.py build [NAME ...]  the images (all by default) on that base
    python deploy/docker/imagectl.py engine-stop       every container and image removed, dockerd stopped, no mount left

Where a registry is reachable, the same Dockerfiles build on the official images instead:
    docker build --build-arg BASE_IMAGE=python:3.11-slim-bookworm -f deploy/history-api/Dockerfile .
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("VIETMARKET_DOCKER_CACHE", str(REPO / ".cache" / "docker")))

BASE_IMAGE = "vietmarket/base:bookworm"
SUITE = "bookworm"
# What every image needs before its own apt or pip step: Python for the venv images, certificates for TLS.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
TAG = "latest"

# Every image the build produces, by name, with its Dockerfile; the context is always the repository root.
# The Nomad jobs' image defaults must each name one of these (tests/deploy/test_nomad_specs.py).
IMAGES: Mapping[str, str] = {
    "vietmarket/history-api": "deploy/history-api/Dockerfile",
    "vietmarket/dagster": "deploy/dagster/Dockerfile",
    "vietmarket/timescaledb-ha": "deploy/timescaledb/Dockerfile",
    "vietmarket/etcd": "deploy/etcd/Dockerfile",
    "vietmarket/haproxy": "deploy/haproxy/Dockerfile",
}

LOG_TAIL = 25


class StepError(RuntimeError):
    """A step of the image pipeline failed; the message names the step and carries the evidence."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


def tail(text: str, lines: int = LOG_TAIL) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def docker_bin() -> str:
    # Debian's client matches Debian's dockerd (20.10) and keeps the classic builder, whose
    # "Step N/M" lines name the failing step; a newer client on PATH would want buildx.
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise StepError("docker client", "no docker binary: install Debian's docker.io package")


def host_mirror() -> str:
    """The Debian mirror the host's apt uses, so the base image reaches the same one."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            if line.startswith("deb "):
                return line.split()[1]
    raise StepError("base image", "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list")


@dataclass(frozen=True)
class Engine:
    """One private dockerd: its own data root, socket and containerd namespace, so several can run side by side."""

    root: Path

    @property
    def key(self) -> str:
        return hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:10]

    @property
    def exec_root(self) -> Path:
        # Unix socket paths are limited to 108 bytes, so the sockets live under /run, not the repo.
        return Path("/run/vietmarket-docker") / self.key

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def pidfile(self) -> Path:
        return self.exec_root / "dockerd.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def host(self) -> str:
        return f"unix://{self.exec_root / 'docker.sock'}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKER_BUILDKIT"] = "0"
        env["COMPOSE_DOCKER_CLI_BUILD"] = "0"
        return env

    def docker(self, *args: str, step: str, timeout: float = 120, check: bool = True) -> str:
        proc = subprocess.run(
            [docker_bin(), *args], env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise StepError(
                step, f"`docker {' '.join(args[:3])}` exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}"
            )
        return proc.stdout

    def running(self) -> bool:
        proc = subprocess.run(
            [docker_bin(), "version", "--format", "{{.Server.Version}}"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return proc.returncode == 0

    def start(self, timeout_s: float = 60) -> None:
        if self.running():
            return
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not Path(dockerd).is_file():
            raise StepError("dockerd", "dockerd is not installed: install Debian's docker.io package")
        self.root.mkdir(parents=True, exist_ok=True)
        self.exec_root.mkdir(parents=True, exist_ok=True)
        namespace = f"vietmarket-{self.key}"
        log = self.log_path.open("ab")
        # No bridge, no iptables: every container runs with host networking and stays on loopback.
        subprocess.Popen(
            [
                dockerd,
                f"--data-root={self.data_root}",
                f"--exec-root={self.exec_root}",
                f"--pidfile={self.pidfile}",
                f"--host={self.host}",
                "--bridge=none",
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                "--storage-driver=overlay2",
                f"--containerd-namespace={namespace}",
                f"--containerd-plugins-namespace={namespace}-plugins",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.3)
        raise StepError(
            "dockerd", f"did not answer on {self.host} within {timeout_s:.0f} s; log:\n{tail(self.log_text())}"
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def remove_all(self) -> None:
        """Every container (with its anonymous volumes), image and volume this engine holds."""
        containers = self.docker("ps", "-aq", step="list containers").split()
        if containers:
            self.docker("rm", "-f", "-v", *containers, step="remove containers", timeout=180)
        # Tagged images, the build's intermediate layers and every volume, in dependency order.
        self.docker("system", "prune", "--all", "--force", "--volumes", step="remove images and volumes", timeout=300)

    def stop(self, timeout_s: float = 30) -> list[str]:
        """Stops everything this engine started and deletes its state; returns what could not be removed."""
        leftovers = []
        if self.running():
            # A failed removal must not keep dockerd alive: its data root goes below anyway.
            try:
                self.remove_all()
            except StepError as exc:
                leftovers.append(f"removal failed ({exc})")
        pid = self._pid()
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for mount in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        stuck = [f"mount {m}" for m in self.mounts()] + [f"process {p}" for p in self.processes()]
        if not stuck:
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.rmtree(self.exec_root, ignore_errors=True)
        return leftovers + stuck

    def _pid(self) -> int | None:
        with suppress(FileNotFoundError, ValueError):
            return int(self.pidfile.read_text().strip())
        return None

    def mounts(self) -> list[str]:
        roots = (str(self.data_root), str(self.exec_root))
        found = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(roots):
                found.append(point)
        return found

    def processes(self) -> list[int]:
        """Live dockerd, containerd or shim processes whose command line names this engine's roots."""
        marks = (str(self.data_root), str(self.exec_root), f"vietmarket-{self.key}")
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if any(mark in cmdline for mark in marks):
                    found.append(int(proc.name))
        return found

    def image_exists(self, ref: str) -> bool:
        proc = subprocess.run(
            [docker_bin(), "image", "inspect", ref], env=self.env(), capture_output=True, check=False, timeout=30
        )
        return proc.returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split()[2] == "Z")


def base_key(mirror: str) -> str:
    recipe = "\n".join([SUITE, "minbase", mirror, *BASE_PACKAGES, *sorted(host_trust_files())])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def host_trust_files() -> list[str]:
    """The host's extra CA certificates and apt Acquire settings: what lets it reach its mirror and PyPI."""
    files = sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("*.crt"))
    for conf in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        with suppress(OSError, UnicodeDecodeError):
            if conf.is_file() and re.search(r"^Acquire::", conf.read_text(), re.MULTILINE):
                files.append(str(conf))
    return files


def base_tarball(mirror: str | None = None) -> Path:
    """The base root filesystem as a tarball, built once with debootstrap and kept in the git-ignored cache."""
    mirror = mirror or host_mirror()
    target = CACHE / f"base-{SUITE}-{base_key(mirror)}.tar"
    if target.is_file():
        return target
    if not shutil.which("debootstrap"):
        raise StepError("base image", "debootstrap is not installed: install Debian's debootstrap package")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="base-", dir=CACHE))
    rootfs = work / "rootfs"
    try:
        proc = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            raise StepError(
                "base image",
                f"debootstrap {SUITE} from {mirror} failed (exit {proc.returncode}); could it reach the mirror?\n"
                f"{tail(proc.stdout + proc.stderr)}",
            )
        _trust_host(rootfs)
        _slim(rootfs)
        partial = work / "base.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
            check=True,
            capture_output=True,
        )
        partial.replace(target)
    finally:
        for mount in ("proc", "sys", "dev/pts", "dev"):
            subprocess.run(["umount", "-l", str(rootfs / mount)], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return target


def _trust_host(rootfs: Path) -> None:
    for path in host_trust_files():
        src = Path(path)
        dest = rootfs / src.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    proc = subprocess.run(
        ["chroot", str(rootfs), "update-ca-certificates"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise StepError("base image", f"update-ca-certificates in the base failed: {tail(proc.stderr)}")


def _slim(rootfs: Path) -> None:
    for rel in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for child in (rootfs / rel).glob("*"):
            if child.is_file():
                child.unlink()
    # The kernel fills these at run time; a tarball of the host's view would only confuse import.
    for rel in ("proc", "sys", "dev"):
        for child in (rootfs / rel).glob("*"):
            with suppress(OSError):
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def import_base(engine: Engine) -> str:
    if engine.image_exists(BASE_IMAGE):
        return BASE_IMAGE
    tarball = base_tarball()
    engine.docker(
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["/bin/bash"]',
        str(tarball),
        BASE_IMAGE,
        step="import base image",
        timeout=300,
    )
    return BASE_IMAGE


STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build(engine: Engine, name: str, base: str = BASE_IMAGE, log_dir: Path | None = None) -> str:
    """Builds one image on the base; a failure names the Dockerfile step and shows its last output lines."""
    if name not in IMAGES:
        raise StepError(f"build {name}", f"unknown image; the build produces {', '.join(IMAGES)}")
    log_dir = log_dir or engine.root / "builds"
    log_dir.mkdir(parents=True, exist_ok=True)
    return build_dockerfile(engine, f"{name}:{TAG}", IMAGES[name], base, log_dir / f"{name.replace('/', '_')}.log")


def build_dockerfile(engine: Engine, ref: str, dockerfile: str, base: str, log_path: Path) -> str:
    """`docker build` of one Dockerfile with the repository as context; a failure names the step it failed at."""
    name = ref.rsplit(":", 1)[0]
    cmd = [
        docker_bin(),
        "build",
        "--force-rm",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "-f",
        dockerfile,
        "-t",
        ref,
        ".",
    ]
    step, lines = "context", []
    with log_path.open("w", buffering=1) as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=engine.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        started = time.monotonic()
        for line in proc.stdout:
            # Elapsed seconds on each line: the log then shows which step a slow build spends its time in.
            log.write(f"[{time.monotonic() - started:7.1f}s] {line}")
            lines.append(line.rstrip("\n"))
            match = STEP_LINE.match(line.strip())
            if match:
                step = f"step {match[1]}/{match[2]} ({match[3][:100]})"
        code = proc.wait()
    if code != 0:
        raise StepError(
            f"build {name}",
            f"failed at {step}, exit {code} ({dockerfile}; full log {log_path}):\n{tail(chr(10).join(lines))}",
        )
    return ref


def build_all(engine: Engine, names: Sequence[str] = ()) -> list[str]:
    base = import_base(engine)
    return [build(engine, name, base) for name in (names or IMAGES)]


def image_size_mb(engine: Engine, ref: str) -> float:
    return int(engine.docker("image", "inspect", "--format", "{{.Size}}", ref, step="image size").strip()) / 1e6


def wait_running(engine: Engine, container: str, within_s: float = 10) -> None:
    """Fails, with the container's exit code and last log lines, if it stops within the grace period."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        state = engine.docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container, step="inspect")
        status, code = state.split()
        if status in ("exited", "dead"):
            raise StepError(
                f"container {container}", f"exited with code {code}; last log lines:\n{last_logs(engine, container)}"
            )
        time.sleep(0.5)


def last_logs(engine: Engine, container: str, lines: int = LOG_TAIL) -> str:
    proc = subprocess.run(
        [docker_bin(), "logs", "--tail", str(lines), container],
        env=engine.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return (proc.stdout + proc.stderr).rstrip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["engine-start", "engine-stop", "base", "build", "list"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--root", default=os.environ.get("VIETMARKET_DOCKER_ROOT", str(REPO / ".data" / "docker")))
    args = parser.parse_args(argv)
    engine = Engine(Path(args.root))
    try:
        if args.command == "list":
            print("\n".join(IMAGES))
        elif args.command == "engine-start":
            engine.start()
            print(f"DOCKER_HOST={engine.host}")
        elif args.command == "engine-stop":
            leftovers = engine.stop()
            if leftovers:
                raise StepError("engine-stop", "left behind: " + ", ".join(leftovers))
        elif args.command == "base":
            engine.start()
            print(import_base(engine))
        else:
            engine.start()
            for ref in build_all(engine, args.names):
                print(f"{ref} {image_size_mb(engine, ref):.0f} MB")
    except StepError as exc:
        print(f"imagectl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
