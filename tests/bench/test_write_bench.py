"""The write-path benchmark runs at CI size, so it cannot rot; it prints its figures and ratios."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.write_path import parse_args, report, run


@pytest.mark.bench
def test_write_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-write-ci.json")
    args = parse_args(
        ["--tickers", "40", "--days", "1000", "--database", f"vm_bench_write_ci_{os.getpid()}", "--json", str(out_file)]
    )
    results = run(args)
    report(results, args)
    show_printed()
    figures = {f["name"]: f for f in json.loads(out_file.read_text())}
    assert set(figures) == {
        "raw COPY into the hypertable (floor)",
        "old execute_values upsert (page 1000)",
        "upsert, first write",
        "re-upsert, nothing changed",
        "re-upsert, 1% of bars revised",
    }
    assert all(f["rows"] == 40_000 and f["rows_per_s"] > 0 for f in figures.values())
    assert figures["raw COPY into the hypertable (floor)"]["ratio_to_copy"] == 1.0
