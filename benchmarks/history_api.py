"""History API load benchmark: /candles?limit=500 over many tickers under wrk, against a driver-only floor.

Loads --tickers tickers x --daily-years of daily bars into a fresh, migrated database, starts the
service as production runs it (`python -m history_api`, uvicorn with --workers), and drives the
newest 500-bar page of a ticker picked round-robin with wrk at --connections connections. In the
same run it measures the floor: the same query through asyncpg alone, at the same concurrency, no
HTTP. Reports req/s, p50/p99 and errors, and the ratio of API throughput to the floor.
The targets on this 2-core machine: 0 errors, p99 <= 50 ms, throughput >= 50 % of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import httpx

from benchmarks.paging import admin_connect, load_market
from history_api.db import keep_session
from vietmarket_core.sqlfiles import timeframe_sql
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

PAGE_SQL = timeframe_sql("history_api", "sql/candles_page.sql")["1d"]
# The floor runs exactly the API's query: the page with its rows rendered as JSON by the server.
PAGE = 500


@dataclass
class LoadFigures:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    detail: str = ""


def tickers(n: int) -> list[str]:
    return [f"T{i:04d}" for i in range(1, n + 1)]


async def driver_floor(dsn: str, names: list[str], connections: int, pool_size: int, seconds: float) -> LoadFigures:
    """The same page query through asyncpg alone: `connections` concurrent callers, one pool."""
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size, reset=keep_session)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def caller(offset: int) -> None:
        nonlocal errors
        i = offset
        while time.perf_counter() < deadline:
            i += 1
            started = time.perf_counter()
            try:
                async with pool.acquire() as conn:
                    page = await conn.fetchrow(PAGE_SQL, names[i % len(names)], "1d", 9_999_999_999_999, PAGE)
                if page is None or page["bars"] != PAGE:
                    errors += 1
            except (asyncpg.PostgresError, OSError):
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller(k * 7919) for k in range(connections)))
    elapsed = time.perf_counter() - started
    await pool.close()
    ordered = sorted(latencies)
    return LoadFigures(
        name="driver only (asyncpg)",
        requests_per_s=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(ordered), 2),
        p99_ms=round(ordered[int(len(ordered) * 0.99) - 1], 2),
        requests=len(latencies),
        errors=errors,
        detail=f"pool {pool_size}, {connections} concurrent callers, one process",
    )


WRK_SCRIPT = """
local tickers = {%(tickers)s}
local i = 0
function setup(thread)
  thread:set("offset", math.random(1, #tickers))
end
function init(args)
  i = tonumber(offset) or 0
end
function request()
  i = i + 1
  local t = tickers[(i %% #tickers) + 1]
  return wrk.format("GET", "/candles?ticker=" .. t .. "&tf=1d&limit=%(page)d", {["X-API-Key"] = "%(key)s"})
end
"""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> LoadFigures:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    if non2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(non2xx.group(1))
    if socket := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(g) for g in socket.groups())
    return LoadFigures("History API (wrk)", rps, round(p50, 2), round(p99, 2), total, errors)


def run_wrk(url: str, key: str, names: list[str], args: argparse.Namespace, workdir: Path) -> LoadFigures:
    script = workdir / "candles.lua"
    script.write_text(WRK_SCRIPT % {"tickers": ",".join(f'"{t}"' for t in names), "page": PAGE, "key": key})
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "--timeout", "5s",
        "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = parse_wrk(done.stdout)
    figures.detail = f"{args.workers} uvicorn worker(s), pool {args.pool_max} each, {args.connections} connections"
    return figures


def start_api(reader_url: str, key: str, args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = args.port
    env = {
        **os.environ,
        "HISTORY_API_PG_URL": reader_url,
        "HISTORY_API_KEYS": key,
        "PORT": str(port),
        "HISTORY_API_WORKERS": str(args.workers),
        "PG_POOL_MIN": str(args.pool_max),
        "PG_POOL_MAX": str(args.pool_max),
        # A load test of one key: the limiter still runs on every request, it just never trips.
        "HISTORY_API_RATE_LIMIT": "100000000/minute",
        "HISTORY_API_ACCESS_LOG": "0",
        "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "history_api"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"history-api exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"history-api did not become healthy: {log.read_text()[-2000:]}")


def run(args: argparse.Namespace) -> list[LoadFigures]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed; run scripts/install-system-packages.sh")
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    reader_url = os.environ.get("HISTORY_API_PG_URL")
    if not admin_url or not reader_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL / HISTORY_API_PG_URL are not set; run through `make bench-api`")
    dbname = args.database
    create_database(admin_url, dbname, replace=True)
    workdir = Path(tempfile.mkdtemp(prefix="vm-bench-api-"))
    api = None
    try:
        migrate(with_database(admin_url, dbname))
        conn = admin_connect(admin_url, dbname)
        print(f"loading {args.tickers} tickers x {args.daily_years} y of daily bars", flush=True)
        load_market(conn, args.tickers, args.daily_years, 0)
        conn.close()
        names = tickers(args.tickers)
        reader = with_database(reader_url, dbname)
        key = secrets.token_urlsafe(24)
        api, url = start_api(reader, key, args, workdir / "api.log")
        warm = httpx.get(url + "/candles", params={"ticker": names[0], "tf": "1d"}, headers={"X-API-Key": key})
        if warm.status_code != 200 or warm.json()["count"] != PAGE:
            raise SystemExit(f"the API did not serve a full page: {warm.status_code} {warm.text[:200]}")
        floor = asyncio.run(driver_floor(reader, names, args.connections, args.workers * args.pool_max, args.seconds))
        through_api = run_wrk(url, key, names, args, workdir)
        return [floor, through_api]
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            drop_database(admin_url, dbname)


def report(results: list[LoadFigures], args: argparse.Namespace) -> None:
    floor, api = results
    print(f"\n/candles?limit={PAGE} over {args.tickers} tickers, {args.connections} connections, {args.seconds} s")
    print(f"{'path':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}  setup")
    for f in results:
        print(
            f"{f.name:<24} {f.requests_per_s:>9.1f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.requests:>9} {f.errors:>7}"
            f"  {f.detail}"
        )
    ratio = api.requests_per_s / floor.requests_per_s if floor.requests_per_s else 0.0
    print(f"API throughput / driver-only floor: {ratio:.2f}x (target >= 0.50)")
    print(f"API p99 {api.p99_ms:.1f} ms (target <= 50), errors {api.errors} (target 0)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"results": [asdict(r) for r in results], "ratio": round(ratio, 3), "args": vars(args)}, indent=2)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=1600)
    parser.add_argument("--daily-years", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-max", type=int, default=8)
    parser.add_argument("--port", type=int, default=18787)
    parser.add_argument("--database", default="vm_bench_api")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--json", default="artifacts/bench-api.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
