"""Paging-query benchmark: planning and execution time of the newest-first 500-bar page, per timeframe.

Loads a synthetic market (weekday sessions; 1d over --daily-years, 1h and 15m over
--intraday-years) into a fresh, migrated database, then measures for each timeframe:
  * EXPLAIN ANALYZE planning and execution time of the page, on the timeframe's hypertable and
    through the `candles` view that old readers query;
  * pgbench throughput at --clients clients, with plain (re-planned) and prepared statements;
  * the same for the deployed layout, one table with 30-day chunks, as the baseline (1d only).
Chunk counts depend on the time span, not on the ticker count, so the small CI size plans
exactly as the full market does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

# Bar opens as UTC offsets from midnight in ms.  Sessions are 09:00-11:30 and 13:00-15:00 ICT.
HOUR_MS, MIN_MS = 3_600_000, 60_000
SESSION_OFFSETS = {
    "1d": [0],
    "1h": [h * HOUR_MS for h in (2, 3, 4, 6, 7)],
    "15m": [2 * HOUR_MS + m * 15 * MIN_MS for m in range(10)] + [6 * HOUR_MS + m * 15 * MIN_MS for m in range(8)],
}
PAGE = 500
END_DATE = "2026-11-20"


@dataclass
class Figures:
    layout: str
    tf: str
    chunks: int
    rows: int
    plan_ms_median: float
    plan_ms_p95: float
    exec_ms_median: float
    exec_ms_p95: float
    total_ms_median: float
    tps_replanned: float
    tps_prepared: float
    extra: dict[str, float] = field(default_factory=dict)


def admin_connect(url: str, dbname: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(with_database(url, dbname))
    conn.autocommit = True
    return conn


def load_market(conn: psycopg2.extensions.connection, tickers: int, daily_years: int, intraday_years: int) -> None:
    """Synthetic bars for tickers T0001..; intraday_years = 0 loads daily bars only."""
    with conn.cursor() as cur:
        # A bulk load of a benchmark fixture; candles_latest is filled once at the end instead.
        cur.execute("SET session_replication_role = replica")
        spans = [("1d", daily_years), ("1h", intraday_years), ("15m", intraday_years)]
        for tf, years in (span for span in spans if span[1] > 0):
            offsets = "ARRAY[" + ",".join(str(o) for o in SESSION_OFFSETS[tf]) + "]::bigint[]"
            started = time.perf_counter()
            batch = max(1, 4_000_000 // (260 * years * len(SESSION_OFFSETS[tf])))
            for first in range(1, tickers + 1, batch):
                last = min(tickers, first + batch - 1)
                cur.execute(
                    f"""
                    INSERT INTO candles_{tf} (ticker, tf, ts, o, h, l, c, v, source)
                    SELECT 'T' || lpad(t::text, 4, '0'), %(tf)s,
                           (extract(epoch FROM d) * 1000)::bigint + off,
                           p, p * 1.01, p * 0.99, p * 1.005, 1000 + t, 'bench'
                      FROM generate_series(%(first)s, %(last)s) t,
                           generate_series(%(end)s::date - make_interval(years => %(years)s),
                                           %(end)s::date, interval '1 day') d,
                           unnest({offsets}) off,
                           LATERAL (SELECT 10 + (t %% 90) + extract(doy FROM d) / 10.0 AS p) price
                     WHERE extract(isodow FROM d) < 6
                    """,
                    {"tf": tf, "first": first, "last": last, "end": END_DATE, "years": years},
                )
            cur.execute(f"VACUUM ANALYZE candles_{tf}")
            print(f"  loaded {tf}: {time.perf_counter() - started:.1f} s", flush=True)
        cur.execute(
            """
            INSERT INTO candles_latest (ticker, tf, ts, o, h, l, c, v, source)
            SELECT DISTINCT ON (ticker, tf) ticker, tf, ts, o, h, l, c, v, source
              FROM candles ORDER BY ticker, tf, ts DESC
            """
        )
        cur.execute("RESET session_replication_role")


def load_legacy_baseline(conn: psycopg2.extensions.connection) -> None:
    """The deployed layout: one candles table, 30-day chunks, PK plus a (ticker, tf, ts DESC) index."""
    with conn.cursor() as cur:
        cur.execute(
            """
            CREATE TABLE legacy_candles (LIKE candles_1d INCLUDING DEFAULTS);
            ALTER TABLE legacy_candles ADD PRIMARY KEY (ticker, tf, ts);
            SELECT create_hypertable('legacy_candles', by_range('ts', 2592000000::bigint));
            CREATE INDEX ON legacy_candles (ticker, tf, ts DESC);
            INSERT INTO legacy_candles SELECT * FROM candles_1d;
            """
        )
        cur.execute("VACUUM ANALYZE legacy_candles")


@dataclass(frozen=True)
class Page:
    """The page query under test: on which relation, at which timeframe, reported under which layout."""

    layout: str
    relation: str
    tf: str

    def sql(self) -> str:
        return (
            f"SELECT ts, o, h, l, c, v, source FROM {self.relation} "
            f"WHERE ticker = %s AND tf = '{self.tf}' AND ts < %s ORDER BY ts DESC LIMIT {PAGE}"
        )


@dataclass(frozen=True)
class Bench:
    """The loaded benchmark database and the run's settings, which every measurement shares."""

    conn: psycopg2.extensions.connection
    admin_url: str
    dbname: str
    args: argparse.Namespace


def explain_times(bench: Bench, page: Page, samples: int, rng: random.Random) -> tuple[list[float], list[float], int]:
    plan_ms, exec_ms, rows = [], [], 0
    with bench.conn.cursor() as cur:
        for _ in range(samples):
            ticker = f"T{rng.randint(1, bench.args.tickers):04d}"
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + page.sql(), (ticker, 9_999_999_999_999))
            plan = cur.fetchone()[0][0]  # type: ignore[index]
            plan_ms.append(plan["Planning Time"])
            exec_ms.append(plan["Execution Time"])
            rows = plan["Plan"].get("Actual Rows", rows)
    return plan_ms, exec_ms, rows


def pgbench_tps(bench: Bench, page: Page, mode: str) -> float:
    args = bench.args
    parts = urlsplit(bench.admin_url)
    script = (
        f"\\set i random(1, {args.tickers})\n"
        f"SELECT ts, o, h, l, c, v, source FROM {page.relation} WHERE ticker = 'T' || lpad(:i::text, 4, '0') "
        f"AND tf = '{page.tf}' AND ts < 9999999999999 ORDER BY ts DESC LIMIT {PAGE};\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    cmd = [
        "/usr/lib/postgresql/15/bin/pgbench", "-n", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
        "-U", parts.username or "postgres", "-M", mode, "-c", str(args.clients), "-j", "2",
        "-T", str(args.seconds), "-f", f.name, bench.dbname,
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    Path(f.name).unlink()
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr.strip()}")
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if not match:
        raise RuntimeError(f"pgbench printed no tps: {out.stdout}")
    return float(match.group(1))


def measure(bench: Bench, page: Page, rng: random.Random) -> Figures:
    with bench.conn.cursor() as cur:
        hypertable = page.relation if page.relation != "candles" else f"candles_{page.tf}"
        cur.execute("SELECT count(*) FROM show_chunks(%s)", (hypertable,))
        chunks = cur.fetchone()[0]  # type: ignore[index]
    explain_times(bench, page, 5, rng)  # warm caches
    plan, execute, rows = explain_times(bench, page, bench.args.samples, rng)
    total = [p + e for p, e in zip(plan, execute, strict=True)]

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]

    return Figures(
        layout=page.layout,
        tf=page.tf,
        chunks=chunks,
        rows=rows,
        plan_ms_median=round(statistics.median(plan), 3),
        plan_ms_p95=round(p95(plan), 3),
        exec_ms_median=round(statistics.median(execute), 3),
        exec_ms_p95=round(p95(execute), 3),
        total_ms_median=round(statistics.median(total), 3),
        tps_replanned=pgbench_tps(bench, page, "simple"),
        tps_prepared=pgbench_tps(bench, page, "prepared"),
    )


def run(args: argparse.Namespace) -> list[Figures]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    if not admin_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL is not set; run through `make bench` or `make test`")
    dbname = args.database
    create_database(admin_url, dbname, replace=True)
    try:
        migrate(with_database(admin_url, dbname))
        conn = admin_connect(admin_url, dbname)
        print(
            f"loading {args.tickers} tickers: 1d x {args.daily_years} y, 1h and 15m x {args.intraday_years} y",
            flush=True,
        )
        load_market(conn, args.tickers, args.daily_years, args.intraday_years)
        if not args.no_baseline:
            load_legacy_baseline(conn)
        bench = Bench(conn, admin_url, dbname, args)
        rng = random.Random(20260213)
        results = []
        for tf in ("1d", "1h", "15m"):
            results.append(measure(bench, Page("per-tf hypertable", f"candles_{tf}", tf), rng))
            results.append(measure(bench, Page("candles view", "candles", tf), rng))
        if not args.no_baseline:
            results.append(measure(bench, Page("deployed 30-day chunks", "legacy_candles", "1d"), rng))
        conn.close()
        return results
    finally:
        if not args.keep:
            drop_database(admin_url, dbname)


def report(results: list[Figures], args: argparse.Namespace) -> None:
    print(
        f"\nnewest-first {PAGE}-bar page, {args.tickers} tickers, {args.clients} pgbench clients, "
        f"{args.samples} EXPLAIN ANALYZE samples"
    )
    header = (
        f"{'layout':<24}{'tf':<5}{'chunks':>7}{'plan ms':>9}{'exec ms':>9}{'total':>8}{'p95 plan':>9}"
        f"{'tps re-plan':>12}{'tps prep':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.layout:<24}{r.tf:<5}{r.chunks:>7}{r.plan_ms_median:>9.3f}{r.exec_ms_median:>9.3f}"
            f"{r.total_ms_median:>8.3f}{r.plan_ms_p95:>9.3f}{r.tps_replanned:>12.0f}{r.tps_prepared:>10.0f}"
        )
    baseline = next((r for r in results if r.layout.startswith("deployed")), None)
    new_1d = next(r for r in results if r.layout == "per-tf hypertable" and r.tf == "1d")
    if baseline:
        print(
            f"\n1d vs the deployed 30-day layout: planning {baseline.plan_ms_median / new_1d.plan_ms_median:.1f}x "
            f"faster, re-planned throughput {new_1d.tps_replanned / baseline.tps_replanned:.1f}x"
        )
    worst = max(r.total_ms_median for r in results if r.layout == "per-tf hypertable")
    print(f"worst per-tf median plan+execute: {worst:.3f} ms (target < 1 ms)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=1600)
    parser.add_argument("--daily-years", type=int, default=25)
    parser.add_argument("--intraday-years", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database", default="vm_bench_paging")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--json", default="artifacts/bench-paging.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
