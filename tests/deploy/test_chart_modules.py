"""The image's stand-in for `npm ci`: the lockfile's packages, from a registry speaking npm's tarball paths, each
checked against its integrity before a byte of it lands."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.modules import load_by_path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "packages" / "history-api" / "src" / "history_api" / "chart"


def load() -> ModuleType:
    return load_by_path("chart_modules", REPO / "deploy" / "history-api" / "chart_modules.py")


chart_modules = load()


def tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def integrity(body: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()


@pytest.fixture
def registry() -> Iterator[tuple[str, dict[str, bytes]]]:
    served: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()


def lockfile(tmp_path: Path, packages: dict[str, dict[str, object]]) -> Path:
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps({"lockfileVersion": 3, "packages": {"": {}, **packages}}))
    return path


def test_installs_the_locked_tarball_contents(tmp_path: Path, registry: tuple[str, dict[str, bytes]]) -> None:
    url, served = registry
    body = tarball({"package/package.json": b'{"name":"fancy-canvas"}', "package/dist/a.js": b"export {}"})
    served["/fancy-canvas/-/fancy-canvas-2.1.0.tgz"] = body
    lock = lockfile(tmp_path, {"node_modules/fancy-canvas": {"version": "2.1.0", "integrity": integrity(body)}})
    installed = chart_modules.install(lock, tmp_path / "node_modules", registry=url)
    assert installed == ["fancy-canvas@2.1.0"]
    assert (tmp_path / "node_modules" / "fancy-canvas" / "dist" / "a.js").read_bytes() == b"export {}"


def test_a_tarball_that_does_not_match_its_integrity_is_refused_and_nothing_lands(
    tmp_path: Path, registry: tuple[str, dict[str, bytes]]
) -> None:
    url, served = registry
    served["/fancy-canvas/-/fancy-canvas-2.1.0.tgz"] = tarball({"package/index.js": b"tampered"})
    good = integrity(tarball({"package/index.js": b"original"}))
    lock = lockfile(tmp_path, {"node_modules/fancy-canvas": {"version": "2.1.0", "integrity": good}})
    with pytest.raises(chart_modules.LockError, match=r"fancy-canvas@2\.1\.0: .* does not match the integrity"):
        chart_modules.install(lock, tmp_path / "node_modules", registry=url)
    assert not (tmp_path / "node_modules").exists()


def test_a_path_escaping_the_package_is_refused(tmp_path: Path, registry: tuple[str, dict[str, bytes]]) -> None:
    url, served = registry
    body = tarball({"package/../../escaped.js": b"x"})
    served["/evil/-/evil-1.0.0.tgz"] = body
    lock = lockfile(tmp_path, {"node_modules/evil": {"version": "1.0.0", "integrity": integrity(body)}})
    with pytest.raises(chart_modules.LockError, match="outside the package"):
        chart_modules.install(lock, tmp_path / "node_modules", registry=url)
    assert not (tmp_path / "escaped.js").exists()


def test_install_scripts_and_weak_hashes_are_refused(tmp_path: Path, registry: tuple[str, dict[str, bytes]]) -> None:
    url, _ = registry
    scripted = lockfile(
        tmp_path, {"node_modules/x": {"version": "1", "integrity": "sha512-AA==", "hasInstallScript": True}}
    )
    with pytest.raises(chart_modules.LockError, match="install script"):
        chart_modules.install(scripted, tmp_path / "nm", registry=url)
    sha1 = lockfile(tmp_path, {"node_modules/x": {"version": "1", "integrity": "sha1-AA=="}})
    with pytest.raises(chart_modules.LockError, match="only sha512"):
        chart_modules.install(sha1, tmp_path / "nm", registry=url)


def test_the_chart_lockfile_is_one_this_installer_can_serve() -> None:
    packages = json.loads((CHART / "package-lock.json").read_text())["packages"]
    runtime = {k: v for k, v in packages.items() if k.startswith("node_modules/") and not v.get("dev")}
    assert "node_modules/lightweight-charts" in runtime
    for meta in runtime.values():
        assert not meta.get("hasInstallScript") and str(meta["integrity"]).startswith("sha512-")
