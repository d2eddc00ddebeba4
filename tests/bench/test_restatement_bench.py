"""The restatement benchmark runs at CI size, so it cannot rot; it prints its figures."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.restatement import parse_args, report, run


@pytest.mark.bench
def test_restatement_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-restatement-ci.json")
    argv = ["--tickers", "60", "--bars", "300", "--restated", "5", "--database", f"vm_bench_restate_ci_{os.getpid()}"]
    args = parse_args([*argv, "--json", str(out_file)])
    report(run(args), args)
    printed = show_printed()
    figures = json.loads(out_file.read_text())
    assert [d["tf"] for d in figures["detection"]] == ["1d", "1h", "15m"]
    assert all(d["reads"] == 2 and d["with_restated"]["restated"] == 5 for d in figures["detection"])
    assert figures["replace_25y_daily"]["bars_replaced"] == 6_500 - 30, "every bar before the ex-date"
    assert "detection, all three timeframes of a tick" in printed
