"""`fetch_accepted`: each partition whose fetch was rejected fails here, naming provider, ticker,
tf and the problem; the partitions written beside it pass."""

import dagster as dg

from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.io_manager import REJECTED_KEY
from vietmarket_pipelines.defs.candles.partitions import candle_partitions

CHECK_NAME = "fetch_accepted"


def rejections_in_run(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Partition key -> why it was rejected, from this run's candle materializations.

    The IO manager records a rejection on the partition's own materialization, so the verdict
    travels with the run through Dagster's event log: one paged read, however many partitions.
    """
    rejected: dict[str, str] = {}
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=5_000
        )
        for record in page.records:
            event = record.asset_materialization
            if event is not None and event.asset_key == candles.key and REJECTED_KEY in event.metadata:
                rejected[str(event.partition)] = str(event.metadata[REJECTED_KEY].value)
        if not page.has_more:
            return rejected
        cursor = page.cursor


@dg.asset_check(
    asset=candles,
    name=CHECK_NAME,
    partitions_def=candle_partitions,
    blocking=True,
    description="The provider's answer for this partition was accepted. A rejected partition (a malformed "
    "payload, a provider that kept failing) has nothing written and fails here alone, naming provider, "
    "ticker, timeframe and the problem; the next tick retries it. Blocking: the run shows red.",
)
def candles_fetch_accepted(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    rejected = rejections_in_run(context.instance, context.run.run_id)
    keys = context.op_execution_context.partition_keys
    for key in keys:
        problem = rejected.get(key)
        # A range run has no single partition key, so each partition's verdict is its own
        # evaluation event; log_event takes them although its annotation does not say so.
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                asset_key=candles.key,
                check_name=CHECK_NAME,
                passed=problem is None,
                severity=dg.AssetCheckSeverity.ERROR,
                description=problem,
                metadata={"problem": problem} if problem else {},
                blocking=True,
                partition=key,
            )
        )
    return dg.AssetCheckResult(
        passed=not rejected,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(rejected)} of {len(keys)} partitions rejected" if rejected else None,
        metadata={"partitions_checked": len(keys), "partitions_rejected": len(rejected)},
    )
