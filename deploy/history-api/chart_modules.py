"""Installs the chart page's npm packages from package-lock.json, each checked against its lockfile integrity.

What `npm ci --omit=dev` does for this lockfile (two packages, no install scripts), with only Python's standard
library, so the image build needs no Node.js: Debian's npm alone costs a build two minutes of apt.

    python3 chart_modules.py package-lock.json node_modules
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

DEFAULT_REGISTRY = "https://registry.npmjs.org"


class LockError(RuntimeError):
    pass


def tarball_url(registry: str, name: str, version: str) -> str:
    return f"{registry.rstrip('/')}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def extract(body: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        for member in archive.getmembers():
            # npm tarballs hold one top folder (usually package/); its contents are the package.
            _, _, rel = member.name.partition("/")
            if not rel or not (member.isfile() or member.isdir()):
                continue
            path = (root / rel).resolve()
            if not path.is_relative_to(root):
                raise LockError(f"{member.name}: a path outside the package in its tarball")
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            path.write_bytes(source.read())


def install(lockfile: Path, target: Path, registry: str | None = None) -> list[str]:
    registry = registry or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY
    packages = json.loads(lockfile.read_text())["packages"]
    installed = []
    for key, meta in packages.items():
        if not key.startswith("node_modules/") or meta.get("dev"):
            continue
        name = key.removeprefix("node_modules/")
        if meta.get("hasInstallScript"):
            raise LockError(f"{name}: has an install script, which this installer does not run; use npm ci")
        algorithm, _, digest = meta["integrity"].partition("-")
        if algorithm != "sha512":
            raise LockError(f"{name}: integrity {algorithm!r} in {lockfile}; only sha512 is accepted")
        url = tarball_url(registry, name, meta["version"])
        with urllib.request.urlopen(url, timeout=60) as res:
            body = res.read()
        if hashlib.sha512(body).digest() != base64.b64decode(digest):
            raise LockError(f"{name}@{meta['version']}: {url} does not match the integrity in {lockfile}")
        extract(body, target / name)
        installed.append(f"{name}@{meta['version']}")
    return installed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        for package in install(Path(argv[0]), Path(argv[1])):
            print(f"installed {package}")
    except (LockError, OSError) as exc:
        print(f"chart_modules: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
