"""Every third-party module the code imports is declared by the distribution (or dev group) it ships in."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = {
    "vietmarket_pipelines": canonicalize_name("vietmarket-pipelines"),
    "history_api": canonicalize_name("history-api"),
    "vietmarket_core": canonicalize_name("vietmarket-core"),
    "vietmarket_client": canonicalize_name("vietmarket-client"),
}
LOCAL = {"tests", "benchmarks"}


def pyproject(path: Path) -> dict[str, object]:
    with (path / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def names(requirements: Iterable[str]) -> set[NormalizedName]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def declared(project_dir: Path) -> set[NormalizedName]:
    project = pyproject(project_dir)["project"]
    assert isinstance(project, dict)
    return {canonicalize_name(project["name"])} | names(project.get("dependencies", []))


PIPELINES = declared(REPO)
HISTORY_API = declared(REPO / "packages" / "history-api")
CORE = declared(REPO / "packages" / "vietmarket-core")
CLIENT = declared(REPO / "packages" / "vietmarket-client")
_groups = pyproject(REPO)["dependency-groups"]
assert isinstance(_groups, dict)
# The dev venv holds all four distributions and the dev group; tests, benchmarks and scripts run there.
DEV = PIPELINES | HISTORY_API | CORE | CLIENT | names(_groups["dev"])

# Source root -> what its imports may come from.
SCOPES = {
    "vietmarket_pipelines": PIPELINES | CORE,
    "packages/history-api/src": HISTORY_API | CORE,
    "packages/vietmarket-core/src": CORE,
    # The client stands alone: not even vietmarket-core.
    "packages/vietmarket-client/src": CLIENT,
    "tests": DEV,
    "benchmarks": DEV,
    "scripts": DEV,
    "deploy": DEV,
}


def top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - LOCAL


# Scanning every installed distribution takes seconds; do it once.
_PROVIDERS = importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[NormalizedName]:
    if module in FIRST_PARTY:
        return {FIRST_PARTY[module]}
    return {canonicalize_name(d) for d in _PROVIDERS.get(module, [])}


def sources(root: str) -> list[Path]:
    return sorted(p for p in (REPO / root).rglob("*.py") if "node_modules" not in p.parts)


@pytest.mark.parametrize("root", sorted(SCOPES))
def test_every_import_is_declared(root: str) -> None:
    undeclared: dict[str, list[str]] = {}
    for path in sources(root):
        for module in top_level_imports(path):
            if not distributions_of(module) & SCOPES[root]:
                undeclared.setdefault(module, []).append(str(path.relative_to(REPO)))
    assert not undeclared, f"imported but not declared for {root}: {undeclared}"


def test_the_scan_sees_the_known_imports() -> None:
    # Guards the scan itself: an empty result would pass the test above vacuously.
    assert {"dagster", "pandas", "numpy", "pydantic", "vietmarket_core"} <= set().union(
        *(top_level_imports(p) for p in sources("vietmarket_pipelines"))
    )
    assert {"litestar", "asyncpg", "vietmarket_core"} <= set().union(
        *(top_level_imports(p) for p in sources("packages/history-api/src"))
    )
    client = set().union(*(top_level_imports(p) for p in sources("packages/vietmarket-client/src")))
    assert {"httpx", "pandas", "pyarrow"} <= client and not client & {"history_api", "vietmarket_core", "dagster"}
    assert distributions_of("yaml") == {"pyyaml"}
    assert distributions_of("dagster") & SCOPES["packages/history-api/src"] == set()
