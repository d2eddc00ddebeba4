"""Repair-job benchmark: the anchor probe over a simulated market seeded with mixed series, against the request floor.

Seeds a fresh database the way an outage leaves it (every stock's full history up to the outage,
an action ex on one in `--restated-every` while the platform is down, the missed range then
refetched as asked, without comparison), then runs the repair job (`candles_rebase_job`'s
`probe` mode, in process through Dagster) twice over every stored series, with the deployed
request budget (15 requests per 5 s).  Reports per run: wall time, provider requests, series
fixed, and the requests against the batching's floor: one anchor request per provider batch of
stored stocks, plus one whole-history request per batch of restated ones.  The second run must
fix nothing and send only the anchor requests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg2

from vietmarket_core.market import VN_TZ, Timeframe
from vietmarket_pipelines.defs.calendar.refresh import refresh
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.fetch import CandleFetch, CandleFetcher, RefetchRange
from vietmarket_pipelines.defs.candles.io_manager import TimescaleCandleIOManager, write_fetch
from vietmarket_pipelines.defs.candles.partitions import TICKERS, range_tags
from vietmarket_pipelines.defs.candles.probe import probe_floor
from vietmarket_pipelines.defs.candles.schedules import candles_rebase_job
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RunMode
from vietmarket_pipelines.simulator.server import SimulatorServer, start_in_thread
from vietmarket_pipelines.timescale.candle_store import CandleStore
from vietmarket_pipelines.timescale.databases import create_database, drop_database
from vietmarket_pipelines.timescale.migrate import migrate

# The simulated market's clock, the outage and the action that went ex during it (as in
# tests/candles/test_probe.py): the ex-date is more than any overlap before now.
NOW = datetime(2026, 2, 13, 16, 0, tzinfo=VN_TZ)
OUTAGE_FROM, EX_DATE, MISSED_FROM = date(2026, 1, 9), "2026-01-20", date(2026, 1, 12)


def market_data(sim: SimulatorServer, args: argparse.Namespace, dsn: str) -> MarketDataResource:
    url = sim.url
    return MarketDataResource(
        vci_base_url=url, ssi_base_url=url, vndirect_dchart_base_url=url, vndirect_finfo_base_url=url,
        requests_per_window=args.requests_per_window, window_seconds=args.window_seconds,
        pacing=TimescaleResource(dsn=dsn),
    )  # fmt: skip


def list_active(dsn: str, stocks: list[str]) -> None:
    """The universe the repair job covers: a probe, like a tick, skips inactive tickers."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO symbols (ticker, exchange, active) VALUES (%s, 'HOSE', true)", [(t,) for t in stocks]
        )
    conn.close()


def seed_mixed(  # noqa: PLR0913 - where to write and fetch from, plus which series
    store: CandleStore, md: MarketDataResource, sim: SimulatorServer, tf: Timeframe,
    stocks: list[str], restated: list[str],
) -> None:  # fmt: skip
    def write(refetch: RefetchRange) -> None:
        fetcher = CandleFetcher(md, store, refetch, NOW.astimezone(UTC), lambda _: None)
        outcome = write_fetch(store, CandleFetch(RunMode.BACKFILL, fetcher.fetch({tf: stocks})))
        if outcome.rejected:
            raise SystemExit(f"seeding failed: {outcome.rejections()}")

    write(RefetchRange(end_date=OUTAGE_FROM))
    actions = [{"symbol": t, "kind": "stock_dividend", "ratio": 0.2, "ex_date": EX_DATE} for t in restated]
    httpx.post(f"{sim.url}/_sim/corporate-actions", json=actions, timeout=30).raise_for_status()
    write(RefetchRange(start_date=MISSED_FROM))


def repair_run(instance: dg.DagsterInstance, resources: dict[str, Any], sim: SimulatorServer, tf: Timeframe,
               stocks: list[str]) -> dict[str, Any]:  # fmt: skip
    """One run of the repair job over every seeded series: its time, requests and the series it fixed."""
    before = sim.simulator.requests.get("vci-history", 0)
    started = time.perf_counter()
    result = dg.materialize(
        [candles], instance=instance, resources=resources, selection=None, raise_on_error=True,
        tags={**dict(candles_rebase_job.tags or {}), **range_tags(tf, stocks)},
    )  # fmt: skip
    wall = time.perf_counter() - started
    (line,) = (e.user_message for e in instance.all_logs(result.run_id) if "anchor probe" in e.user_message)
    probe_s = re.search(r" in ([0-9.]+) s$", line)
    fixed = sorted(
        str(record.asset_materialization.partition).split("|")[-1]
        for record in instance.fetch_materializations(dg.AssetKey("candles"), limit=len(stocks) + 1).records
        if record.run_id == result.run_id
        and record.asset_materialization is not None
        and "restated" in record.asset_materialization.metadata
    )
    return {
        "wall_s": round(wall, 2),
        "probe_s": float(probe_s.group(1)) if probe_s else None,
        "log": line,
        "requests": sim.simulator.requests.get("vci-history", 0) - before,
        "fixed": len(fixed),
        "fixed_series": fixed,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    if not admin_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL is not set; run through `make bench` or `make test`")
    tf: Timeframe = args.tf
    dsn = create_database(admin_url, args.database, replace=True)
    sim = start_in_thread(now=NOW)
    try:
        migrate(dsn)
        listing = httpx.get(f"{sim.url}/api/price/symbols/getAll", timeout=30).json()
        listed = (r["symbol"] for r in listing if r["type"] == "STOCK" and r["board"] != "DELISTED")
        stocks = sorted(listed)[: args.tickers]
        restated = stocks[:: args.restated_every]
        md, store = market_data(sim, args, dsn), CandleStore(dsn)
        list_active(dsn, stocks)
        print(f"repair job: {len(stocks)} {tf} series, {len(restated)} of them mixed", flush=True)
        started = time.perf_counter()
        seed_mixed(store, md, sim, tf, stocks, restated)
        # The calendar as the runs before the outage left it: otherwise the first repair run's
        # refresh of it would count as one of the probe's requests.
        refresh(store, md, datetime.now(UTC), only_if_due=False)
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        batch = md.provider("vci").batch_size
        anchors = probe_floor(len(stocks), batch)
        # A restated series costs its share of one more batched request: its whole history.
        floor = anchors + math.ceil(len(restated) / batch)
        interval = args.window_seconds / args.requests_per_window
        mirror = ConvexMirrorResource()
        resources = {
            "market_data": md,
            "timescale": TimescaleResource(dsn=dsn),
            "timescale_candles": TimescaleCandleIOManager(timescale=TimescaleResource(dsn=dsn), convex=mirror),
            "convex": mirror,
        }
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(TICKERS, stocks)
            first = repair_run(instance, resources, sim, tf, stocks)
            second = repair_run(instance, resources, sim, tf, stocks)
        if first["fixed_series"] != restated or second["fixed"] != 0:
            raise SystemExit(f"repair job fixed {first['fixed_series']} then {second['fixed']}; expected {restated}")
        first |= {"floor_requests": floor, "ratio_to_floor": round(first["requests"] / floor, 2)}
        second |= {"floor_requests": anchors, "ratio_to_floor": round(second["requests"] / anchors, 2)}
        for r in (first, second):
            r["pacing_floor_s"] = round(r["floor_requests"] * interval, 2)
        return {"tf": tf, "series": len(stocks), "mixed": len(restated), "batch": batch, "runs": [first, second]}
    finally:
        sim.shutdown()
        drop_database(admin_url, args.database)


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    series, tf, mixed = figures["series"], figures["tf"], figures["mixed"]
    print(f"\nrepair job over {series} {tf} series ({mixed} mixed), provider batch {figures['batch']}")
    columns = ("fixed", 7), ("requests", 10), ("floor", 7), ("x floor", 9), ("probe s", 9), ("run s", 9)
    print(f"{'run':<8}" + "".join(f"{name:>{width}}" for name, width in columns) + f"{'pacing floor s':>16}")
    for name, r in zip(("first", "second"), figures["runs"], strict=True):
        print(
            f"{name:<8}{r['fixed']:>7}{r['requests']:>10}{r['floor_requests']:>7}{r['ratio_to_floor']:>9.2f}"
            f"{r['probe_s']:>9.2f}{r['wall_s']:>9.2f}{r['pacing_floor_s']:>16.2f}"
        )
    print("probe s: the probe and its replacements (the run log's line); run s: the whole Dagster run")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=10_000, help="stocks to seed (default: every listed one)")
    parser.add_argument("--restated-every", type=int, default=5, help="one stock in N goes ex during the outage")
    parser.add_argument("--tf", choices=("1d", "1h", "15m"), default="1d")
    parser.add_argument("--requests-per-window", type=int, default=15, help="the deployed budget")
    parser.add_argument("--window-seconds", type=float, default=5.0)
    parser.add_argument("--database", default="vm_bench_repair")
    parser.add_argument("--json", default="artifacts/bench-repair.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
