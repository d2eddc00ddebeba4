"""Whole-market benchmarks through the real Dagster deployment against the simulator.

1. Daily backfill: every listed ticker's full 1d history (~1,600 tickers, ~6M bars), launched
   like the asset page's Materialize button; the BackfillPolicy splits it into a few runs.
   Reports wall time, bars/s and the peak RSS of the run worker processes.
2. One "latest" tick: the three runs (one per timeframe, over every active ticker, in the
   schedule's order and with its tags) that candles_latest_schedule requests, after the intraday
   series hold their recent history.
   `--tick-only` skips the daily backfill and seeds the last week of every timeframe instead,
   so the tick can be measured in a couple of minutes.
3. The same tick again on a day on which `--actions` stocks (default 20) go ex: each restated
   series is detected in its overlap, refetched whole and replaced. Reports wall time, the
   provider requests by route and the restatements recorded, against the normal tick's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from benchmarks.dagster_stack import REPO_ROOT, DagsterStack, RssSampler, free_port, seed_symbols
from vietmarket_core.market import INDEX_TICKERS, TIMEFRAMES, VN_TZ, Timeframe
from vietmarket_pipelines.defs.candles.partitions import range_tags
from vietmarket_pipelines.defs.candles.schedules import TICK_ORDER
from vietmarket_pipelines.defs.common.run_tags import PROVIDER_TAG, RunMode, mode_tags
from vietmarket_pipelines.providers.universe import BOARD_TO_EXCHANGE, index_listings
from vietmarket_pipelines.timescale.databases import create_database, drop_database
from vietmarket_pipelines.timescale.migrate import migrate


def start_simulator() -> tuple[subprocess.Popen[bytes], str]:
    # The simulator runs on the real clock, as the providers do: incremental windows reach from
    # the newest stored bar to now, and a simulated market stuck in the past would stretch them.
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vietmarket_pipelines.simulator", "--port", str(port)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/_sim/health", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the simulator did not start")


def count(dsn: str, sql: str) -> Any:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(sql)
        value = cur.fetchone()[0]  # type: ignore[index]
    conn.close()
    return value


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    if not admin_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL is not set; run through `make bench` or `make test`")
    candles_db, dagster_db = f"{args.database}", f"{args.database}_dagster"
    dsn = create_database(admin_url, candles_db, replace=True)
    dagster_url = create_database(admin_url, dagster_db, replace=True)
    migrate(dsn)
    sim, sim_url = start_simulator()
    figures: dict[str, Any] = {}
    try:
        env = {"VIETMARKET_PG_URL": dsn, "VIETMARKET_SIMULATOR_URL": sim_url, "VIETMARKET_STEP_RETRIES": "0"}
        with DagsterStack(dagster_url, env) as stack:
            dagster = stack.client
            listing = httpx.get(f"{sim_url}/api/price/symbols/getAll", timeout=30).json()
            boards = {r["symbol"]: r["board"] for r in listing if r["type"] == "STOCK" and r["board"] != "DELISTED"}
            exchanges = {i.ticker: i.exchange for i in index_listings()}
            exchanges |= {symbol: BOARD_TO_EXCHANGE[board] for symbol, board in sorted(boards.items())}
            tickers = ["VNINDEX", "VN30", "HNXINDEX", "UPCOMINDEX", *sorted(boards)][: args.tickers]
            stack.add_partitions_in_process("tickers", tickers)
            seed_symbols(dsn, {t: exchanges[t] for t in tickers})

            if not args.tick_only:
                sampler = RssSampler(stack.process_groups())
                sampler.start()
                started = time.perf_counter()
                backfill_id = dagster.launch_backfill("candles", [f"1d|{t}" for t in tickers])
                backfill = dagster.wait_backfill(backfill_id, timeout_s=args.timeout)
                wall = time.perf_counter() - started
                sampler.stop()
                bars = count(dsn, "SELECT count(*) FROM candles_1d")
                figures["daily_backfill"] = {
                    "tickers": len(tickers),
                    "status": backfill["status"],
                    "runs": len(backfill["runs"]),
                    "bars": bars,
                    "wall_s": round(wall, 1),
                    "bars_per_s": round(bars / wall),
                    "peak_rss_single_run_mb": round(sampler.peak_single_mb),
                    "peak_rss_all_runs_mb": round(sampler.peak_total_mb),
                }
                print(f"daily backfill: {figures['daily_backfill']}", flush=True)

            # The intraday series get their recent history first (and 1d too without the backfill), so
            # the tick is incremental.
            week_ago = (datetime.now(VN_TZ) - timedelta(days=7)).date().isoformat()
            seed_config = {"ops": {"candles": {"config": {"full_refetch": True, "start_date": week_ago}}}}
            seed_tfs = TIMEFRAMES if args.tick_only else ("1h", "15m")
            seeds = [
                dagster.launch_run("candles_job", whole_market_tags(tickers, tf, RunMode.BACKFILL), seed_config)
                for tf in seed_tfs
            ]
            dagster.wait_runs(seeds, timeout_s=args.timeout)

            figures["latest_tick"] = latest_tick(stack, tickers, sim_url, dsn, args.timeout)
            print(f"latest tick: {figures['latest_tick']}", flush=True)
            if args.actions:
                going_ex = go_ex_today(sim_url, stocks_in(tickers), args.actions)
                figures["tick_with_actions"] = {
                    "actions": len(going_ex),
                    **latest_tick(stack, tickers, sim_url, dsn, args.timeout),
                }
                print(f"tick with {len(going_ex)} actions going ex: {figures['tick_with_actions']}", flush=True)
    finally:
        sim.terminate()
        sim.wait()
        if not args.keep:
            drop_database(admin_url, candles_db)
            drop_database(admin_url, dagster_db)
    return figures


def latest_tick(stack: DagsterStack, tickers: list[str], sim_url: str, dsn: str, timeout: float) -> dict[str, Any]:
    """One latest tick, as the schedule launches it: wall time, each run's span, provider requests."""
    dagster = stack.client
    httpx.delete(f"{sim_url}/_sim/requests", timeout=30).raise_for_status()
    restated_before = count(dsn, "SELECT count(*) FROM series_restatements")
    sampler = RssSampler(stack.process_groups())
    sampler.start()
    started, launched = time.perf_counter(), time.time()
    ticks = [dagster.launch_run("candles_job", whole_market_tags(tickers, tf, RunMode.LATEST)) for tf in TICK_ORDER]
    statuses = dagster.wait_runs(ticks, timeout_s=timeout)
    wall = time.perf_counter() - started
    sampler.stop()
    requests: dict[str, int] = httpx.get(f"{sim_url}/_sim/stats", timeout=30).json()
    return {
        "tickers": len(tickers),
        "runs": len(ticks),
        "statuses": sorted(statuses.values()),
        "wall_s": round(wall, 1),
        # Each run's [start, end] in seconds after the launch: where the tick's time goes.
        "run_spans_s": {
            tf: [round(t - launched, 1) for t in dagster.run_span(run_id)]
            for tf, run_id in zip(TICK_ORDER, ticks, strict=True)
        },
        "requests": sum(requests.values()),
        "requests_by_route": requests,
        "restatements": count(dsn, "SELECT count(*) FROM series_restatements") - restated_before,
        "peak_rss_all_runs_mb": round(sampler.peak_total_mb),
    }


def stocks_in(tickers: list[str]) -> list[str]:
    return [t for t in tickers if t not in INDEX_TICKERS]


def go_ex_today(sim_url: str, stocks: list[str], n: int) -> list[str]:
    """`n` stocks spread over the market get a 20 % stock dividend going ex today."""
    chosen = stocks[:: max(1, len(stocks) // n)][:n]
    for ticker in chosen:
        action = {"symbol": ticker, "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}
        httpx.post(f"{sim_url}/_sim/corporate-actions", json=action, timeout=30).raise_for_status()
    return chosen


def whole_market_tags(tickers: list[str], tf: Timeframe, mode: RunMode) -> dict[str, str]:
    # As the schedules tag their runs: the run queue's per-provider limit applies.
    return {**range_tags(tf, tickers), **mode_tags(mode), PROVIDER_TAG: "vci"}


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    t = figures["latest_tick"]
    print()
    if d := figures.get("daily_backfill"):
        print(
            f"whole-market daily backfill: {d['tickers']} tickers, {d['bars']:,} bars in {d['runs']} runs, "
            f"{d['wall_s']} s, {d['bars_per_s']:,} bars/s, peak RSS {d['peak_rss_single_run_mb']} MB per run "
            f"({d['peak_rss_all_runs_mb']} MB all runs) [targets: < 600 s, < 1,500 MB]"
        )
    print(
        f"one latest tick: {t['runs']} runs over {t['tickers']} tickers x 3 tf in {t['wall_s']} s, "
        f"{t['requests']} provider requests [target: <= 60 s]"
    )
    if a := figures.get("tick_with_actions"):
        print(
            f"the tick on a day {a['actions']} stocks go ex: {a['wall_s']} s ({a['wall_s'] / t['wall_s']:.2f}x the "
            f"normal tick), {a['requests']} provider requests ({a['requests'] - t['requests']:+d}), "
            f"{a['restatements']} series restated and replaced"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=10_000, help="cap on tickers (default: the whole market)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--database", default="vm_bench_market")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--tick-only", action="store_true", help="skip the daily backfill; seed a week of every timeframe, then tick"
    )
    parser.add_argument(
        "--actions", type=int, default=20, help="stocks going ex before a second tick (0: no second tick)"
    )
    parser.add_argument("--json", default="artifacts/bench-market.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
