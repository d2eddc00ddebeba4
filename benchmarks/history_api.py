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
import itertools
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
import httpx

from benchmarks.load_generator import LoadRun, closed_loop, open_loop, stage_breakdown
from benchmarks.paging import admin_connect, load_market
from history_api.db import keep_session
from vietmarket_core.sqlfiles import timeframe_sql
from vietmarket_pipelines.timescale.databases import create_database, database_exists, drop_database, with_database
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
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def detail_hits(self) -> str:
        answered = self.cache_hits + self.cache_misses
        return f"{self.cache_hits / answered:.1%} hits" if answered else "no cache answers counted"


def tickers(n: int) -> list[str]:
    return [f"T{i:04d}" for i in range(1, n + 1)]


# A page a client asks for: the ticker and its beforeTs cursor (None: the newest page).
Page = tuple[str, int | None]


async def driver_floor(  # noqa: PLR0913
    dsn: str, pages: list[Page], connections: int, pool_size: int, seconds: float, name: str = "driver only (asyncpg)"
) -> LoadFigures:
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
                ticker, before = pages[i % len(pages)]
                async with pool.acquire() as conn:
                    page = await conn.fetchrow(PAGE_SQL, ticker, "1d", before or 9_999_999_999_999, PAGE)
                if page is None or page["bars"] == 0:
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
        name=name,
        requests_per_s=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(ordered), 2),
        p99_ms=round(ordered[int(len(ordered) * 0.99) - 1], 2),
        requests=len(latencies),
        errors=errors,
        detail=f"pool {pool_size}, {connections} concurrent callers, one process",
    )


WRK_SCRIPT = """
local paths = {%(paths)s}
local threads = {}
local i = 0
function setup(thread)
  thread:set("offset", math.random(1, #paths))
  table.insert(threads, thread)
end
function init(args)
  i = tonumber(offset) or 0
  hits, misses = 0, 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["X-API-Key"] = "%(key)s"})
end
%(response)s
"""

# Counting the page cache's answers costs wrk a Lua call per response, so only the cached run does it.
WRK_COUNT_CACHE = """
function response(status, headers, body)
  local answer = headers["x-cache"] or headers["X-Cache"]
  if answer == "hit" then hits = hits + 1 elseif answer then misses = misses + 1 end
end
function done(summary, latency, requests)
  local h, m = 0, 0
  for _, t in ipairs(threads) do h = h + t:get("hits"); m = m + t:get("misses") end
  io.write(string.format("cache hits %d misses %d\\n", h, m))
end
"""


def zipf_walks(cursors: dict[str, list[int]], names: list[str], count: int, depth: int, s: float) -> list[Page]:
    """`count` requests: walks that start at the newest page of a Zipf-chosen ticker and scroll 1..depth pages back.

    `cursors[t]` holds the beforeTs of each older page of t that exists (see page_cursors).
    """
    rng = random.Random(11)  # a load pattern, not a secret
    weights = [1 / rank**s for rank in range(1, len(names) + 1)]
    pages: list[Page] = []
    while len(pages) < count:
        ticker = rng.choices(names, weights)[0]
        older = cursors.get(ticker, [])[: rng.randint(1, depth) - 1]
        pages.extend([(ticker, None), *((ticker, before) for before in older)])
    return pages[:count]


def page_cursors(admin_url: str, dbname: str, depth: int) -> dict[str, list[int]]:
    """Each ticker's beforeTs for pages 2..depth: the ts of its 500th, 1000th, ... newest bar (nextBeforeTs)."""
    conn = admin_connect(admin_url, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """SELECT ticker, ts FROM (
                     SELECT ticker, ts, row_number() OVER (PARTITION BY ticker ORDER BY ts DESC) AS newest
                       FROM candles_1d WHERE tf = '1d') ranked
                    WHERE newest %% %s = 0 AND newest < %s ORDER BY ticker, ts DESC""",
                (PAGE, PAGE * depth),
            )
            cursors: dict[str, list[int]] = {}
            for ticker, ts in cur.fetchall():
                cursors.setdefault(ticker, []).append(ts)
            return cursors
    finally:
        conn.close()


def page_path(page: Page) -> str:
    ticker, before = page
    return f"/candles?ticker={ticker}&tf=1d&limit={PAGE}" + ("" if before is None else f"&beforeTs={before}")


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


def run_wrk(  # noqa: PLR0913
    url: str, key: str, pages: list[Page], args: argparse.Namespace, workdir: Path, *, count_cache: bool = False
) -> LoadFigures:
    script = workdir / "candles.lua"
    paths = ",".join(f'"{page_path(p)}"' for p in pages)
    script.write_text(WRK_SCRIPT % {"paths": paths, "key": key, "response": WRK_COUNT_CACHE if count_cache else ""})
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "--timeout", "5s",
        "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = parse_wrk(done.stdout)
    figures.detail = f"{args.workers} uvicorn worker(s), pool {args.pool_max} each, {args.connections} connections"
    if counted := re.search(r"cache hits (\d+) misses (\d+)", done.stdout):
        figures.cache_hits, figures.cache_misses = int(counted.group(1)), int(counted.group(2))
    return figures


def start_api(
    reader_url: str, key: str, args: argparse.Namespace, log: Path, cache_bytes: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
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
        "HISTORY_API_SERVER_TIMING": "1",
        # The floor comparison, the stages and the open loop measure the database path; the cache runs apart.
        "HISTORY_API_PAGE_CACHE_BYTES": str(cache_bytes),
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


@dataclass
class OpenLoopFigures:
    offered_per_s: float
    share_of_floor: float
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    requests: int
    errors: int
    breakdown: list[str]


@dataclass
class BenchResults:
    floor: LoadFigures
    api: LoadFigures
    diagnosis: list[str]
    open_loop: list[OpenLoopFigures]
    # The Zipf-walk floor and the cached API.
    cached: list[LoadFigures] = field(default_factory=list)


def _round_robin(names: list[str]) -> Callable[[], str]:
    counter = itertools.count(random.Random(3).randrange(len(names)))  # a load pattern, not a secret
    return lambda: page_path((names[next(counter) % len(names)], None))


def _open_loop_figures(run_: LoadRun, rate: float, floor_rps: float) -> OpenLoopFigures:
    return OpenLoopFigures(
        offered_per_s=round(rate, 1),
        share_of_floor=round(rate / floor_rps, 2),
        achieved_per_s=round(run_.requests_per_s, 1),
        p50_ms=round(run_.quantile(0.5), 2),
        p99_ms=round(run_.quantile(0.99), 2),
        p999_ms=round(run_.quantile(0.999), 2),
        requests=len(run_.samples),
        errors=run_.errors,
        breakdown=stage_breakdown(run_),
    )


def _prepare_database(admin_url: str, args: argparse.Namespace) -> None:
    dbname = args.database
    if args.reuse and database_exists(admin_url, dbname):
        print(f"reusing database {dbname}", flush=True)
        return
    create_database(admin_url, dbname, replace=True)
    migrate(with_database(admin_url, dbname))
    conn = admin_connect(admin_url, dbname)
    print(f"loading {args.tickers} tickers x {args.daily_years} y of daily bars", flush=True)
    load_market(conn, args.tickers, args.daily_years, 0)
    conn.close()


def _warm_up(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "seconds": max(2, args.seconds // 4)})


def _stop(api: subprocess.Popen[bytes] | None) -> None:
    if api is not None:
        api.terminate()
        api.wait(timeout=15)


def _database_path(args: argparse.Namespace, reader: str, key: str, workdir: Path) -> BenchResults:
    """The floor, wrk, the stages and the open loop against an API whose page cache is off."""
    names = tickers(args.tickers)
    api, url = start_api(reader, key, args, workdir / "api.log")
    try:
        warm = httpx.get(url + "/candles", params={"ticker": names[0], "tf": "1d"}, headers={"X-API-Key": key})
        if warm.status_code != 200 or warm.json()["count"] != PAGE:
            raise SystemExit(f"the API did not serve a full page: {warm.status_code} {warm.text[:200]}")
        newest: list[Page] = [(t, None) for t in names]
        pool_size = args.workers * args.pool_max
        floor = asyncio.run(driver_floor(reader, newest, args.connections, pool_size, args.seconds))
        # A fresh worker's first seconds under load are slower (each pooled connection prepares its
        # statements, the first allocations grow the heap): warm up, then measure the steady state.
        run_wrk(url, key, newest, _warm_up(args), workdir)
        through_api = run_wrk(url, key, newest, args, workdir)
        headers = {"X-API-Key": key}
        # The same closed loop as wrk's, from a client that keeps each request's Server-Timing stages.
        diagnosis = closed_loop("127.0.0.1", args.port, _round_robin(names), headers, args.connections, args.seconds)
        open_runs = []
        for share in args.open_loop_shares:
            rate = floor.requests_per_s * share
            done = open_loop("127.0.0.1", args.port, _round_robin(names), headers, rate, args.open_loop_seconds)
            open_runs.append(_open_loop_figures(done, rate, floor.requests_per_s))
        breakdown = [f"{diagnosis.label}: {diagnosis.requests_per_s:.0f} req/s", *stage_breakdown(diagnosis)]
        return BenchResults(floor, through_api, breakdown, open_runs)
    finally:
        _stop(api)


def _cached_path(args: argparse.Namespace, reader: str, key: str, workdir: Path, admin_url: str) -> list[LoadFigures]:
    """Zipf walks: the driver floor over the same pages, then the API with its page cache, warmed first."""
    walks = zipf_walks(
        page_cursors(admin_url, args.database, args.walk_depth), tickers(args.tickers), 20_000, args.walk_depth, 1.1
    )
    pool_size = args.workers * args.pool_max
    floor = asyncio.run(
        driver_floor(reader, walks, args.connections, pool_size, args.seconds, name="driver only, Zipf walks")
    )
    api, url = start_api(reader, key, args, workdir / "api-cached.log", cache_bytes=args.cache_mb << 20)
    try:
        run_wrk(url, key, walks, _warm_up(args), workdir, count_cache=True)
        cached = run_wrk(url, key, walks, args, workdir, count_cache=True)
        cached.name = "API + page cache (wrk)"
        cached.detail += f", {args.cache_mb} MiB cache, {cached.detail_hits}"
        return [floor, cached]
    finally:
        _stop(api)


def run(args: argparse.Namespace) -> BenchResults:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed; run scripts/install-system-packages.sh")
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    reader_url = os.environ.get("HISTORY_API_PG_URL")
    if not admin_url or not reader_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL / HISTORY_API_PG_URL are not set; run through `make bench-api`")
    workdir = Path(tempfile.mkdtemp(prefix="vm-bench-api-"))
    try:
        _prepare_database(admin_url, args)
        reader = with_database(reader_url, args.database)
        key = secrets.token_urlsafe(24)
        results = _database_path(args, reader, key, workdir)
        results.cached = _cached_path(args, reader, key, workdir, admin_url)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            drop_database(admin_url, args.database)


def report(results: BenchResults, args: argparse.Namespace) -> None:
    floor, api = results.floor, results.api
    print(f"\n/candles?limit={PAGE} over {args.tickers} tickers, {args.connections} connections, {args.seconds} s")
    print(f"{'path':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}  setup")
    for f in (floor, api):
        print(
            f"{f.name:<24} {f.requests_per_s:>9.1f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.requests:>9} {f.errors:>7}"
            f"  {f.detail}"
        )
    ratio = api.requests_per_s / floor.requests_per_s if floor.requests_per_s else 0.0
    tail = api.p99_ms / api.p50_ms if api.p50_ms else 0.0
    print(f"API throughput / driver-only floor: {ratio:.2f}x (target >= 0.70)")
    print(f"API p99 / p50: {tail:.1f}x (target <= 3), errors {api.errors} (target 0)")
    print("\nstages of a request, mean ms (Server-Timing; wait = for a free connection, after-app = send and read)")
    for line in results.diagnosis:
        print("  " + line)
    print(f"\nopen loop, Poisson arrivals, {args.open_loop_seconds} s per rate; latency from when each request was due")
    print(f"{'offered/s':>10} {'of floor':>9} {'done/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7}")
    for o in results.open_loop:
        print(
            f"{o.offered_per_s:>10.1f} {o.share_of_floor:>8.0%} {o.achieved_per_s:>8.1f} {o.p50_ms:>8.2f}"
            f" {o.p99_ms:>8.2f} {o.p999_ms:>9.2f} {o.errors:>7}"
        )
        for line in o.breakdown:
            print("    " + line)
    if results.cached:
        walk_floor, cached = results.cached
        print(f"\nZipf walks (s = 1.1, 1..{args.walk_depth} pages deep) over {args.tickers} tickers")
        for f in results.cached:
            print(
                f"{f.name:<24} {f.requests_per_s:>9.1f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.requests:>9}"
                f" {f.errors:>7}  {f.detail}"
            )
        cache_ratio = cached.requests_per_s / walk_floor.requests_per_s if walk_floor.requests_per_s else 0.0
        print(f"cached API throughput / driver-only floor: {cache_ratio:.2f}x (target >= 2)")
    half = [o for o in results.open_loop if abs(o.share_of_floor - 0.5) < 0.01]
    if half:
        print(f"open-loop p99 at 50 % of the floor: {half[0].p99_ms:.1f} ms (target <= 20)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps(
            {
                "results": [asdict(floor), asdict(api)],
                "ratio": round(ratio, 3),
                "diagnosis": results.diagnosis,
                "open_loop": [asdict(o) for o in results.open_loop],
                "cached": [asdict(f) for f in results.cached],
                "args": vars(args),
            },
            indent=2,
        )
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=1600)
    parser.add_argument("--daily-years", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-max", type=int, default=16)
    parser.add_argument("--port", type=int, default=18787)
    parser.add_argument("--database", default="vm_bench_api")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="use the benchmark database if it exists (with --keep)")
    parser.add_argument(
        "--open-loop-shares", type=float, nargs="*", default=[0.25, 0.5, 0.75], help="offered rates, of the floor"
    )
    parser.add_argument("--open-loop-seconds", type=float, default=20)
    parser.add_argument("--walk-depth", type=int, default=4, help="pages a Zipf walk scrolls back, at most")
    parser.add_argument("--cache-mb", type=int, default=256, help="the page cache's bound per worker, MiB")
    parser.add_argument("--json", default="artifacts/bench-api.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
