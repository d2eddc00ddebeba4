"""The paging benchmark runs at CI size, so it cannot rot; its figures are printed, not asserted."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.paging import parse_args, report, run


@pytest.mark.bench
def test_paging_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-paging-ci.json")
    args = parse_args(
        [
            "--tickers", "10", "--seconds", "1", "--samples", "30",
            "--database", f"vm_bench_ci_{os.getpid()}", "--json", str(out_file),
        ]
    )  # fmt: skip
    results = run(args)
    report(results, args)
    printed = show_printed()

    assert "worst per-tf median plan+execute" in printed
    figures = json.loads(out_file.read_text())
    assert {(f["layout"], f["tf"]) for f in figures} == {
        *((layout, tf) for layout in ("per-tf hypertable", "candles view") for tf in ("1d", "1h", "15m")),
        ("deployed 30-day chunks", "1d"),
    }
    for f in figures:
        assert f["rows"] == 500, f"{f['layout']} {f['tf']} returned {f['rows']} bars, not a full page"
        assert f["tps_replanned"] > 0 and f["tps_prepared"] > 0
    per_tf_chunks = {f["tf"]: f["chunks"] for f in figures if f["layout"] == "per-tf hypertable"}
    legacy_chunks = next(f["chunks"] for f in figures if f["layout"].startswith("deployed"))
    # The layout itself, independent of timing: a handful of chunks per series instead of hundreds.
    assert max(per_tf_chunks.values()) <= 6 < 200 < legacy_chunks
