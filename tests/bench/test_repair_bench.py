"""The repair-job benchmark runs at CI size, so it cannot rot; it prints its time and requests against the floor."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.repair_job import parse_args, report, run


@pytest.mark.bench
def test_repair_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-repair-ci.json")
    args = parse_args(
        [
            *("--tickers", "60", "--restated-every", "4"),
            *("--database", f"vm_bench_repair_ci_{os.getpid()}", "--json", str(out_file)),
        ]
    )
    figures = run(args)
    report(figures, args)
    printed = show_printed()
    assert "x floor" in printed
    first, second = json.loads(out_file.read_text())["runs"]
    # 60 stocks are two VCI batches of anchors; the 15 mixed ones fall in both batches.
    assert (first["fixed"], first["floor_requests"], second["fixed"], second["floor_requests"]) == (15, 3, 0, 2)
    assert first["requests"] == first["floor_requests"] and second["requests"] == second["floor_requests"]
    assert "15 restated" in first["log"] and "0 restated" in second["log"]
