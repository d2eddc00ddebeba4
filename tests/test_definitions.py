"""Every definition of the code location loads, and the graph matches its committed snapshot.

The snapshot (tests/snapshots/definitions.json) lists what a reviewer should see change: assets,
checks, jobs, schedules, sensors and resources.  Step retry policies are left out: they are tuned
by environment variables, which the tests set.  After an intended change, rewrite it with
`UPDATE_SNAPSHOTS=1 bash scripts/test.sh tests/test_definitions.py` and commit the diff with the code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from vietmarket_pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(defs)


def _partitions(partitions_def: dg.PartitionsDefinition[Any] | None) -> Any:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {"multi": {d.name: _partitions(d.partitions_def) for d in partitions_def.partitions_defs}}
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return {"static": partitions_def.get_partition_keys()}
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return {"dynamic": partitions_def.name}
    return {type(partitions_def).__name__: str(partitions_def)}


def _type_name(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def graph_snapshot(definitions: dg.Definitions) -> dict[str, Any]:
    """The reviewable shape of the code location, in a stable order and JSON-ready."""
    repo = definitions.get_repository_def()
    assets: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for assets_def in repo.asset_graph.assets_defs:
        op = assets_def.node_def
        for spec in assets_def.specs:
            assets[spec.key.to_user_string()] = {
                "group": spec.group_name,
                "description": spec.description,
                "partitions": _partitions(spec.partitions_def),
                "kinds": sorted(spec.kinds),
                "tags": dict(sorted(spec.tags.items())),
                "owners": list(spec.owners),
                "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
                "automation_condition": str(spec.automation_condition) if spec.automation_condition else None,
                "pool": getattr(op, "pool", None),
                "backfill_policy": str(assets_def.backfill_policy) if assets_def.backfill_policy else None,
                "io_manager_key": assets_def.get_io_manager_key_for_asset_key(spec.key),
            }
        for check in assets_def.check_specs:
            checks[check.key.to_user_string()] = {
                "asset": check.asset_key.to_user_string(),
                "blocking": check.blocking,
                "partitions": _partitions(check.partitions_def),
                "description": check.description,
                "additional_deps": sorted(d.asset_key.to_user_string() for d in check.additional_deps),
            }
    jobs = {
        job.name: {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "checks": sorted(k.to_user_string() for d in job.asset_layer.data for k in d.assets_def.check_keys),
            "partitions": _partitions(job.partitions_def),
            "tags": dict(sorted(job.tags.items())),
        }
        for job in repo.get_all_jobs()
        if not job.name.startswith("__")  # Dagster's implicit asset job
    }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
            "job": s.job_name,
            "description": s.description,
        }
        for s in repo.schedule_defs
    }
    sensors = {s.name: {"default_status": s.default_status.value} for s in repo.sensor_defs}
    resources = {key: _type_name(value) for key, value in sorted((definitions.resources or {}).items())}
    executor = definitions.executor.name if isinstance(definitions.executor, dg.ExecutorDefinition) else None
    return {
        "assets": dict(sorted(assets.items())),
        "checks": dict(sorted(checks.items())),
        "jobs": dict(sorted(jobs.items())),
        "schedules": dict(sorted(schedules.items())),
        "sensors": dict(sorted(sensors.items())),
        "resources": resources,
        "executor": executor,
    }


def test_the_graph_matches_its_snapshot() -> None:
    current = json.dumps(graph_snapshot(defs), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    assert current == committed, (
        "the definitions changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1 and commit "
        "tests/snapshots/definitions.json with the code"
    )
