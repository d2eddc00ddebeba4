"""Write-path benchmark: the candle upsert against raw COPY into the same hypertable, in the same run.

Writes N tickers x D daily bars (default 400 x 5,000 = 2M) into a fresh, migrated database:
  * floor:   one raw binary COPY of every bar straight into candles_1d;
  * old way: psycopg2 execute_values (page 1000) INSERT ... ON CONFLICT DO UPDATE, as the old system;
  * first write with CandleStore.write_partitions (one transaction per ticker) on an empty table;
  * re-upsert of the same bars, nothing changed;
  * re-upsert with 1% of the bars revised.
Each is reported in rows/s and as a ratio to the COPY floor.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.extras

from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.timescale.candle_store import CandleStore, binary_copy
from vietmarket_pipelines.timescale.databases import create_database, drop_database
from vietmarket_pipelines.timescale.migrate import migrate


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    rows_per_s: float
    ratio_to_copy: float | None = None


def synthetic_series(tickers: int, days: int, seed: int = 1) -> list[BarSeries]:
    rng = np.random.default_rng(seed)
    first = date(2026, 11, 20) - timedelta(days=int(days * 7 / 5) + 7)
    sessions = [d for d in (first + timedelta(days=i) for i in range(int(days * 7 / 5) + 14)) if d.weekday() < 5][:days]
    ts = np.array([daily_bar_ts(d) for d in sessions], dtype=np.int64)
    out = []
    for i in range(tickers):
        close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, days)))
        o = np.round(close * (1 + rng.normal(0, 0.005, days)), 2)
        c = np.round(close, 2)
        frame = pd.DataFrame(
            {
                "ts": ts,
                "o": o,
                "h": np.maximum(o, c) + 0.1,
                "l": np.minimum(o, c) - 0.1,
                "c": c,
                "v": np.round(rng.lognormal(12, 1, days)),
            }
        )
        out.append(BarSeries("bench", f"B{i:04d}", "1d", frame))
    return out


def copy_payload_full_rows(series: list[BarSeries]) -> bytes:
    """One binary COPY stream of every series' whole rows."""
    header, trailer = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0), struct.pack(">h", -1)
    return header + b"".join(binary_copy(s, whole_rows=True)[len(header) : -len(trailer)] for s in series) + trailer


def reset(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        cur.execute("TRUNCATE candles_1d, candles_latest")
        cur.execute("CHECKPOINT")


def timed(name: str, rows: int, fn) -> Result:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    print(f"  {name:<42} {rows:>10,} rows {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s", flush=True)
    return Result(name, rows, round(seconds, 3), round(rows / seconds))


def run(args: argparse.Namespace) -> list[Result]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    if not admin_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL is not set; run through `make bench` or `make test`")
    dsn = create_database(admin_url, args.database, replace=True)
    try:
        migrate(dsn)
        series = synthetic_series(args.tickers, args.days)
        rows = sum(len(s) for s in series)
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        store = CandleStore(dsn)
        print(f"write path: {args.tickers} tickers x {args.days} daily bars = {rows:,} bars")
        results = []

        payload = copy_payload_full_rows(series)
        reset(conn)
        with conn.cursor() as cur:
            results.append(
                timed(
                    "raw COPY into the hypertable (floor)",
                    rows,
                    lambda: cur.copy_expert(
                        "COPY candles_1d (ticker, tf, ts, o, h, l, c, v, source) FROM STDIN WITH (FORMAT binary)",
                        io.BytesIO(payload),
                    ),
                )
            )

        reset(conn)

        def old_way() -> None:
            with conn.cursor() as cur:
                for s in series:
                    # pandas-stubs types a row's field as any scalar; ts is the frame's int64 column
                    values = [
                        (s.ticker, s.tf, int(r.ts), r.o, r.h, r.l, r.c, r.v, s.source)  # type: ignore[arg-type]
                        for r in s.frame.itertuples()
                    ]
                    psycopg2.extras.execute_values(
                        cur,
                        "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES %s "
                        "ON CONFLICT (ticker, tf, ts) DO UPDATE SET o = excluded.o, h = excluded.h, l = excluded.l, "
                        "c = excluded.c, v = excluded.v, source = excluded.source, ingested_at = now()",
                        values,
                        page_size=1000,
                    )

        if not args.skip_old:
            results.append(timed("old execute_values upsert (page 1000)", rows, old_way))
            reset(conn)

        results.append(timed("upsert, first write", rows, lambda: list(store.write_partitions(series))))
        results.append(timed("re-upsert, nothing changed", rows, lambda: list(store.write_partitions(series))))
        rng = np.random.default_rng(2)
        revised = []
        for s in series:
            frame = s.frame.copy()
            pick = rng.random(len(frame)) < 0.01
            frame.loc[pick, "v"] = frame.loc[pick, "v"] + 100
            revised.append(BarSeries(s.source, s.ticker, s.tf, frame))
        results.append(timed("re-upsert, 1% of bars revised", rows, lambda: list(store.write_partitions(revised))))
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM candles_1d")
            stored = cur.fetchone()[0]  # type: ignore[index]
            cur.execute("SELECT count(*) FROM candles_latest WHERE tf = '1d'")
            latest = cur.fetchone()[0]  # type: ignore[index]
        if stored != rows or latest != args.tickers:
            raise SystemExit(
                f"write path lost data: {stored} bars stored of {rows}, {latest} latest rows of {args.tickers}"
            )
        conn.close()
        floor = results[0].rows_per_s
        for r in results:
            r.ratio_to_copy = round(r.rows_per_s / floor, 2)
        return results
    finally:
        drop_database(admin_url, args.database)


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\n{'path':<42}{'rows/s':>12}{'x COPY':>9}")
    for r in results:
        print(f"{r.name:<42}{r.rows_per_s:>12,.0f}{r.ratio_to_copy:>9.2f}")
    print("targets: first write >= 0.70x COPY; unchanged re-upsert >= 1.50x COPY")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=400)
    parser.add_argument("--days", type=int, default=5000)
    parser.add_argument("--database", default="vm_bench_write")
    parser.add_argument("--skip-old", action="store_true", help="skip the slow execute_values baseline")
    parser.add_argument("--json", default="artifacts/bench-write.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
