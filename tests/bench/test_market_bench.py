"""The whole-market benchmark runs at CI size through the real webserver, daemon and simulator."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.market_backfill import parse_args, report, run


@pytest.mark.bench
@pytest.mark.e2e
def test_market_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    # One Dagster deployment for all three stages: its start-up and a tick each cost a minute here.
    out_file = Path("artifacts/bench-market-ci.json")
    args = parse_args(
        [
            *("--tickers", "8", "--timeout", "600", "--actions", "2"),
            *("--database", f"vm_bench_mkt_ci_{os.getpid()}", "--json", str(out_file)),
        ]
    )
    figures = run(args)
    report(figures, args)
    show_printed()
    saved = json.loads(out_file.read_text())
    daily, tick, ex = saved["daily_backfill"], saved["latest_tick"], saved["tick_with_actions"]
    assert daily["status"] == "COMPLETED_SUCCESS" and daily["tickers"] == 8 and daily["bars"] > 8 * 1000
    assert daily["peak_rss_single_run_mb"] > 0, "the sampler must have seen the run worker"
    assert tick["statuses"] == ["SUCCESS", "SUCCESS", "SUCCESS"] and tick["tickers"] == 8
    assert set(tick["run_spans_s"]) == {"1d", "1h", "15m"}
    assert tick["restatements"] == 0 and tick["requests"] > 0
    # Two stocks go ex: each of their three series is detected in the overlap and replaced, with
    # one more (batched) request per timeframe for the whole histories.
    assert ex["statuses"] == ["SUCCESS", "SUCCESS", "SUCCESS"] and (ex["actions"], ex["restatements"]) == (2, 6)
    # (One more when a session opened or closed between the ticks: the calendar refresh.)
    assert ex["requests"] - tick["requests"] in (3, 4)
