"""The export benchmark runs at CI size, so it cannot rot; its figures are printed, not asserted."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.export import FORMATS, parse_args, report, rss_kb, run
from tests.clusters import free_port


@pytest.mark.bench
def test_export_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-export-ci.json")
    args = parse_args(
        [
            "--tickers", "12", "--daily-years", "3", "--port", str(free_port()),
            "--database", f"vm_bench_export_ci_{os.getpid()}", "--json", str(out_file),
        ]
    )  # fmt: skip
    stored, results = run(args)
    report(stored, results, args)
    printed = show_printed()

    assert "peak RSS while exporting" in printed
    figures = json.loads(out_file.read_text())
    # Correctness, independent of timing: every format held every stored bar, and RSS was sampled.
    assert stored > 12 * 3 * 250
    assert [f["format"] for f in figures["results"]] == list(FORMATS)
    for f in figures["results"]:
        assert f["rows"] == stored and f["bytes"] > 0
        assert f["rss_peak_mb"] >= f["rss_before_mb"] > 0


def test_rss_of_this_process_is_read_from_proc() -> None:
    assert rss_kb(os.getpid()) > 1000
    assert rss_kb(2**22 + 1) == 0
