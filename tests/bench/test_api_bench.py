"""The History API load benchmark runs at CI size, so it cannot rot; its figures are printed, not asserted."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.history_api import parse_args, parse_wrk, report, run
from tests.clusters import free_port


@pytest.mark.bench
def test_api_benchmark_runs_at_ci_size(admin_url: str, show_printed: Callable[[], str]) -> None:
    out_file = Path("artifacts/bench-api-ci.json")
    args = parse_args(
        [
            "--tickers", "20", "--daily-years", "3", "--seconds", "2", "--connections", "16", "--workers", "1",
            "--port", str(free_port()), "--database", f"vm_bench_api_ci_{os.getpid()}", "--json", str(out_file),
            "--open-loop-seconds", "2",
        ]
    )  # fmt: skip
    results = run(args)
    report(results, args)
    printed = show_printed()

    assert "API throughput / driver-only floor" in printed
    figures = json.loads(out_file.read_text())
    floor, api = figures["results"]
    # Correctness under load, independent of timing: every request answered a full page.
    assert floor["errors"] == 0 and api["errors"] == 0
    assert floor["requests"] > 0 and api["requests"] > 0
    # The open loop ran at each share of the floor, answered every request, and kept its stages.
    assert [o["share_of_floor"] for o in figures["open_loop"]] == [0.25, 0.5, 0.75]
    assert all(o["errors"] == 0 and o["requests"] > 0 for o in figures["open_loop"])
    assert "open-loop p99 at 50 % of the floor" in printed
    assert any("slowest 1%" in line and "acquire" in line and "query" in line for line in figures["diagnosis"])


def test_wrk_output_is_parsed_including_errors() -> None:
    output = """Running 2s test @ http://127.0.0.1:1
  Latency Distribution
     50%    1.50ms
     75%    2.00ms
     90%    3.00ms
     99%  120.00us
  1000 requests in 2.00s, 1.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    500.25
"""
    figures = parse_wrk(output)
    assert (figures.requests_per_s, figures.p50_ms, figures.p99_ms) == (500.25, 1.5, 0.12)
    assert figures.requests == 1000 and figures.errors == 12
