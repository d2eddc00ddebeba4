"""The offline demo: seeds the universe from the simulator and backfills a sample through Dagster."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks.dagster_stack import BACKFILL_STATUS, LAUNCH_BACKFILL, LAUNCH_RUN, LOCATION, RUN_STATUS

URL = f"http://127.0.0.1:{os.environ.get('DAGSTER_PORT', '3000')}"
SAMPLE = ["VNINDEX", "VN30", "VCB", "FPT", "HPG", "VNM", "MWG", "SSI", "ACB", "TCB"]


def graphql(query: str, variables: dict[str, object]) -> dict[str, object]:
    body = httpx.post(f"{URL}/graphql", json={"query": query, "variables": variables}, timeout=60).json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


def main() -> int:
    print(f"demo: materializing `symbols` from the simulator ({URL}/runs)")
    launched = graphql(
        LAUNCH_RUN, {"params": {"selector": {**LOCATION, "jobName": "universe_job"}, "runConfigData": {}}}
    )
    run = launched["launchRun"]
    if run["__typename"] != "LaunchRunSuccess":  # type: ignore[index]
        raise SystemExit(f"could not launch the universe run: {run}")
    run_id = run["run"]["id"]  # type: ignore[index]
    while (status := graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]) not in ("SUCCESS", "FAILURE"):  # type: ignore[index]
        time.sleep(1)
    if status != "SUCCESS":
        raise SystemExit(f"the universe run failed: {URL}/runs/{run_id}")
    partitions = [f"{tf}|{t}" for tf in ("1d", "1h", "15m") for t in SAMPLE]
    print(f"demo: backfilling {len(partitions)} candle partitions ({', '.join(SAMPLE)} x 1d, 1h, 15m)")
    params = {"assetSelection": [{"path": ["candles"]}], "partitionNames": partitions, "fromFailure": False}
    result = graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":  # type: ignore[index]
        raise SystemExit(f"could not launch the backfill: {result}")
    backfill_id = result["backfillId"]  # type: ignore[index]
    while True:
        backfill = graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED",):  # type: ignore[index]
            break
        time.sleep(2)
    print(f"demo: backfill {backfill['status']}: {URL}/assets/candles?view=partitions")  # type: ignore[index]
    print("demo: the bars are in TimescaleDB: SELECT * FROM candles_latest ORDER BY ticker, tf;")
    return 0 if backfill["status"] == "COMPLETED_SUCCESS" else 1  # type: ignore[index]


if __name__ == "__main__":
    sys.exit(main())
