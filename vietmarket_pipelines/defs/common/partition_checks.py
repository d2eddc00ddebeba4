"""Per-partition verdicts of an unpartitioned check: a finding, how verdicts are reported, rejections read back."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

# Not exported by dagster, but the one way to name the materialization a hand-built evaluation targets.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from vietmarket_pipelines.defs.common.run_tags import RunMode

# What a per-partition check yields: an evaluation per reported partition, then the run's summary result.
PartitionedCheckOutput = Iterator[dg.AssetCheckEvaluation | dg.AssetCheckResult]

# Up to this many partitions a run reports every partition's verdict; a bigger run (a backfill chunk, a
# tick) reports its failing partitions and one summary.  Why: ARCHITECTURE.md, "Checks per partition".
EVERY_PARTITION_UP_TO = 25

# Scheduled latest/close runs rewrite only the newest bars; their checks look at this much history
# (the fetch overlap and then some).  Backfills and repairs check whole series.
RECENT_WINDOW = timedelta(days=14)


def check_since_ms(context: dg.AssetCheckExecutionContext) -> int:
    """The first ts (unix ms) a check looks at: recent for scheduled ticks, everything otherwise."""
    if RunMode.of(context.run.tags).is_tick:
        return int((datetime.now(UTC) - RECENT_WINDOW).timestamp() * 1000)
    return 0


# A partition key -> how a verdict names it: the description's prefix ("VCB 1d") and metadata.
Describe = Callable[[str], tuple[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Finding:
    """What is wrong with one partition: a line for the description, and numbers for the metadata."""

    detail: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The newest materialization of each partition, in two queries however many partitions there are.

    An evaluation must name it: the UI shows a partition's check status only while the evaluation
    targets that partition's newest materialization.
    """
    if not partition_keys:
        # An empty set means every partition to Dagster: a healthy whole-market tick reports none.
        return {}
    storage_ids = instance.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(partition_keys)
    )
    if not storage_ids:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(storage_ids.values())), limit=len(storage_ids)
    ).records
    return {
        str(r.partition_key): AssetCheckEvaluationTargetMaterializationData(
            storage_id=r.storage_id, run_id=r.run_id, timestamp=r.timestamp
        )
        for r in records
    }


def report_partitions(  # noqa: PLR0913 - the verdicts, and how to word and name them
    context: dg.AssetCheckExecutionContext,
    findings: Mapping[str, Finding],
    what: str,
    severity: dg.AssetCheckSeverity,
    describe: Describe,
    metadata: Mapping[str, Any] | None = None,
) -> PartitionedCheckOutput:
    """Per-partition verdicts of the run (`findings` by partition key), then the run's summary.

    Each verdict is an evaluation carrying its partition key, so Dagster stores it as that
    partition's row (what the checks tab lists, and `assetCheckExecutions(partition:)` answers).
    Failing partitions come last: the check's latest row is then a failure whenever one failed.
    """
    spec = context.check_specs[0]
    keys = [str(k) for k in context.partition_keys]
    failing = [k for k in keys if k in findings]
    reported = [k for k in keys if k not in findings] if len(keys) <= EVERY_PARTITION_UP_TO else []
    reported += failing
    targets = latest_materializations(context.instance, spec.asset_key, reported)
    for key in reported:
        label, names = describe(key)
        finding = findings.get(key)
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=finding is None,
            severity=severity,
            description=f"{label}: {what}: {finding.detail}" if finding else None,
            metadata={**names, **(metadata or {}), **(finding.metadata if finding else {})},
            target_materialization_data=targets.get(key),
            blocking=spec.blocking,
            partition=key,
        )
    yield dg.AssetCheckResult(
        passed=not failing,
        severity=severity,
        description=f"{len(failing)} of {len(keys)} partitions: {what}" if failing else None,
        metadata={
            **(metadata or {}),
            "partitions_checked": len(keys),
            "partitions_failing": len(failing),
            "failing_sample": dg.MetadataValue.json(failing[:25]),
        },
    )


def rejections_in_run(instance: dg.DagsterInstance, run_id: str, asset_key: dg.AssetKey, key: str) -> dict[str, str]:
    """Partition key -> why its fetch was rejected, from this run's materializations of `asset_key`.

    The writer records a rejection on the partition's own materialization (metadata `key`), so the
    verdict travels with the run through Dagster's event log: one paged read, however many partitions.
    """
    rejected: dict[str, str] = {}
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=5_000
        )
        for record in page.records:
            event = record.asset_materialization
            if event is not None and event.asset_key == asset_key and key in event.metadata:
                rejected[str(event.partition)] = str(event.metadata[key].value)
        if not page.has_more:
            return rejected
        cursor = page.cursor
