"""Export benchmark: peak RSS of the History API while it streams every ticker's 1d history from /export.

Loads --tickers tickers x --daily-years of daily bars (and their symbols rows) into a fresh, migrated
database, starts the service as production runs it (`python -m history_api`, one uvicorn worker so
one process holds the whole export), and downloads `GET /export?tf=1d` over the whole range in each
format (JSON lines, CSV, Parquet), discarding the bytes as they arrive. While each export runs, the
service's resident set (the process and any children, from /proc) is sampled every 20 ms. Reports
rows, bytes, seconds, rows/s, and the resident set before and at its peak per format; every export
must hold every stored bar. The point: the peak does not grow with the range (constant memory).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from benchmarks.history_api import start_api, tickers
from benchmarks.paging import admin_connect, load_market
from history_api.params import MAX_TS_MS
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate

FORMATS = ("jsonl", "csv", "parquet")
SAMPLE_S = 0.02


@dataclass
class ExportFigures:
    format: str
    rows: int
    bytes: int
    seconds: float
    rows_per_s: float
    rss_before_mb: float
    rss_peak_mb: float


def rss_kb(pid: int) -> int:
    """The resident set of `pid` and its children, in kB (0 for a process that is gone)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


class PeakSampler:
    """Samples rss_kb(pid) on a thread until stopped; `peak` is the largest sample."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, rss_kb(self.pid))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def count_rows(fmt: str, path: Path) -> int:
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return lines - 1 if fmt == "csv" else lines


def export_once(url: str, key: str, fmt: str, pid: int, workdir: Path) -> ExportFigures:
    out = workdir / f"export.{fmt}"
    before = rss_kb(pid)
    params: dict[str, str | int] = {"tf": "1d", "from": 0, "to": MAX_TS_MS, "format": fmt}
    started = time.perf_counter()
    size = 0
    with PeakSampler(pid) as sampler, out.open("wb") as sink:
        headers = {"X-API-Key": key, "Accept-Encoding": "identity"}
        with httpx.stream("GET", url + "/export", params=params, headers=headers, timeout=600) as res:
            if res.status_code != 200:
                raise SystemExit(f"/export {fmt}: {res.status_code} {res.read()[:300]!r}")
            for chunk in res.iter_raw(1 << 20):
                size += len(chunk)
                sink.write(chunk)
    seconds = time.perf_counter() - started
    rows = count_rows(fmt, out)
    out.unlink()
    return ExportFigures(
        fmt, rows, size, round(seconds, 2), round(rows / seconds, 1), before / 1024, sampler.peak / 1024
    )


def load(admin_url: str, dbname: str, args: argparse.Namespace) -> int:
    migrate(with_database(admin_url, dbname))
    conn = admin_connect(admin_url, dbname)
    print(f"loading {args.tickers} tickers x {args.daily_years} y of daily bars", flush=True)
    load_market(conn, args.tickers, args.daily_years, 0)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO symbols (ticker, name, exchange, active, kind) "
            "SELECT t, t, 'HOSE', true, 'stock' FROM unnest(%s::text[]) t",
            (tickers(args.tickers),),
        )
        cur.execute("SELECT count(*) FROM candles_1d")
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return int(row[0])


def run(args: argparse.Namespace) -> tuple[int, list[ExportFigures]]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    reader_url = os.environ.get("HISTORY_API_PG_URL")
    if not admin_url or not reader_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL / HISTORY_API_PG_URL are not set; run through `make bench`")
    dbname = args.database
    create_database(admin_url, dbname, replace=True)
    workdir = Path(tempfile.mkdtemp(prefix="vm-bench-export-"))
    api = None
    try:
        stored = load(admin_url, dbname, args)
        key = secrets.token_urlsafe(24)
        api, url = start_api(with_database(reader_url, dbname), key, args, workdir / "api.log")
        results = [export_once(url, key, fmt, api.pid, workdir) for fmt in FORMATS]
        for f in results:
            if f.rows != stored:
                raise SystemExit(f"/export {f.format} held {f.rows} bars, not the {stored} stored")
        return stored, results
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            drop_database(admin_url, dbname)


def report(stored: int, results: list[ExportFigures], args: argparse.Namespace) -> None:
    print(f"\n/export?tf=1d over {args.tickers} tickers x {args.daily_years} y ({stored} bars), one worker")
    print(f"{'format':<8} {'rows':>10} {'MB':>9} {'s':>7} {'rows/s':>10} {'RSS before MB':>14} {'RSS peak MB':>12}")
    for f in results:
        print(
            f"{f.format:<8} {f.rows:>10} {f.bytes / 1e6:>9.1f} {f.seconds:>7.2f} {f.rows_per_s:>10.0f}"
            f" {f.rss_before_mb:>14.1f} {f.rss_peak_mb:>12.1f}"
        )
    peak = max(f.rss_peak_mb for f in results)
    print(f"peak RSS while exporting: {peak:.1f} MB")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    figures = {"stored": stored, "results": [asdict(r) for r in results], "args": vars(args)}
    Path(args.json).write_text(json.dumps(figures, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=1600)
    parser.add_argument("--daily-years", type=int, default=25)
    parser.add_argument("--workers", type=int, default=1, help="1: one process holds the whole export")
    parser.add_argument("--pool-max", type=int, default=4)
    parser.add_argument("--port", type=int, default=18788)
    parser.add_argument("--database", default="vm_bench_export")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--json", default="artifacts/bench-export.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stored, results = run(args)
    report(stored, results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
