"""Restatement benchmark: what detecting restatements adds to a latest tick, and what one replacement costs.

In a fresh, migrated database, N tickers x B stored bars per timeframe on the trading calendar's
bar grid (default the whole market, 1,600 x 2,000), then for each timeframe, as `CandleFetcher`
does on a tick:
  * the overlap reads, one per provider chunk of 50 tickers (`CandleStore.overlap_bars`);
  * the comparisons (`restatement.compare_with_stored`), once with every overlap unchanged (a
    normal tick) and once with `--restated` series rescaled by 1/1.2 (an ex-date);
and `PartitionWriter.replace` of one 25-year daily series (6,500 bars) rescaled before an ex-date.
The whole-market tick through Dagster is `benchmarks.market_backfill --tick-only`; this isolates
the part detection adds, so it can be held against that tick's wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import psycopg2

from vietmarket_core.market import TIMEFRAMES, Timeframe, trading_date_of
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.calendar import BAR_OPENS, TradingCalendar
from vietmarket_pipelines.defs.candles.fetch import OVERLAP
from vietmarket_pipelines.restatement import ReplacementSeries, Restatement, compare_with_stored
from vietmarket_pipelines.timescale.candle_store import PACKAGE, CandleStore, binary_copy, table_sql
from vietmarket_pipelines.timescale.databases import create_database, drop_database
from vietmarket_pipelines.timescale.migrate import migrate

CHUNK = 50  # VciProvider.batch_size
LAST_DAY = date(2026, 2, 13)


@cache
def grid(tf: Timeframe, bars: int) -> npt.NDArray[np.int64]:
    """The last `bars` bar opens of the trading calendar up to 2026-02-13: real sessions, so an
    overlap holds what a tick's does (1d 5 bars, 1h 15, 15m 36)."""
    days = int(bars / len(BAR_OPENS[tf]) * 1.5) + 10
    return np.array(TradingCalendar().grid(LAST_DAY - timedelta(days=days), LAST_DAY, tf)[-bars:], dtype=np.int64)


def synthetic(ticker: str, tf: Timeframe, bars: int, rng: np.random.Generator) -> BarSeries:
    ts = grid(tf, bars)
    c = np.round(10 + 5 * rng.random(bars), 2)
    frame = pd.DataFrame({"ts": ts, "o": c, "h": c + 0.1, "l": c - 0.1, "c": c, "v": 100.0})
    return BarSeries("vci", ticker, tf, frame)


def rescaled(series: BarSeries, factor: float, before_ts: int) -> BarSeries:
    f = series.frame.copy()
    old = f["ts"] < before_ts
    for k in "ohlc":
        f.loc[old, k] = np.round(f.loc[old, k] * factor, 2)
    return BarSeries(series.source, series.ticker, series.tf, f)


def seed(dsn: str, stored: dict[str, BarSeries]) -> None:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        for s in stored.values():
            cur.copy_expert(table_sql(PACKAGE, "sql/copy_bars.sql", s.tf), io.BytesIO(binary_copy(s, whole_rows=True)))
        cur.execute("ANALYZE")
    conn.commit()
    conn.close()


def detect(store: CandleStore, tf: Timeframe, fetched: dict[str, BarSeries], since: int) -> tuple[float, float, int]:
    """(seconds reading, seconds comparing, restatements found) over every chunk, the reads on
    one connection as CandleFetcher's (its connect included)."""
    tickers, read = list(fetched), 0.0
    compare, found = 0.0, 0
    with store.reader() as reader:
        for i in range(0, len(tickers), CHUNK):
            started = time.perf_counter()
            stored = reader.overlap_bars(tf, tickers[i : i + CHUNK], since)
            read += time.perf_counter() - started
            started = time.perf_counter()
            found += sum(compare_with_stored(stored[t], fetched[t]) is not None for t in tickers[i : i + CHUNK])
            compare += time.perf_counter() - started
    return read, compare, found


def bench_timeframe(dsn: str, tf: Timeframe, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    stored = {s.ticker: s for s in (synthetic(f"T{i:04d}", tf, args.bars, rng) for i in range(args.tickers))}
    seed(dsn, stored)
    since = int(grid(tf, args.bars)[-1]) - int(OVERLAP[tf].total_seconds() * 1000)
    unchanged = {t: s.between(since, None) for t, s in stored.items()}
    restated = dict(unchanged)
    for t in list(stored)[: args.restated]:
        restated[t] = rescaled(unchanged[t], 1 / 1.2, 2**62)
    store = CandleStore(dsn)
    detect(store, tf, unchanged, since)  # warm the cache, as every tick after the first finds it
    read, compare, found = detect(store, tf, unchanged, since)
    read_r, compare_r, found_r = detect(store, tf, restated, since)
    if found or found_r != min(args.restated, args.tickers):
        raise AssertionError(f"{tf}: found {found} restatements in unchanged overlaps, {found_r} of {args.restated}")
    return {
        "tf": tf,
        "series": args.tickers,
        "overlap_bars_per_series": len(next(iter(unchanged.values()))),
        "reads": -(-args.tickers // CHUNK),
        "read_s": round(read, 3),
        "compare_s": round(compare, 3),
        "compare_us_per_series": round(compare / args.tickers * 1e6, 1),
        "with_restated": {"restated": found_r, "read_s": round(read_r, 3), "compare_s": round(compare_r, 3)},
    }


def bench_replacement(dsn: str) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    old = synthetic("VCB", "1d", 6_500, rng)
    seed(dsn, {"VCB": old})
    ex_ts = int(old.frame["ts"].iloc[-30])  # 30 sessions ago: every bar before it moves
    found = Restatement("VCB", "1d", "vci", 1 / 1.2, trading_date_of(ex_ts, "1d"), "overlap", {})
    started = time.perf_counter()
    with CandleStore(dsn).writer() as writer:
        stats = writer.replace(ReplacementSeries(rescaled(old, 1 / 1.2, ex_ts), found))
    return {"bars": len(old), "bars_replaced": stats.bars_replaced, "seconds": round(time.perf_counter() - started, 3)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = os.environ.get("VIETMARKET_ADMIN_PG_URL")
    if not admin_url:
        raise SystemExit("VIETMARKET_ADMIN_PG_URL is not set; run through `make bench` or `make test`")
    dsn = create_database(admin_url, args.database, replace=True)
    try:
        migrate(dsn)
        return {
            "detection": [bench_timeframe(dsn, tf, args) for tf in TIMEFRAMES],
            "replace_25y_daily": bench_replacement(dsn),
        }
    finally:
        drop_database(admin_url, args.database)


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    total = 0.0
    for d in figures["detection"]:
        added = d["read_s"] + d["compare_s"]
        total += added
        print(
            f"detection {d['tf']}: {d['series']} series x {d['overlap_bars_per_series']} overlap bars, "
            f"{d['reads']} reads {d['read_s']} s + comparisons {d['compare_s']} s "
            f"({d['compare_us_per_series']} us a series) = {added:.3f} s; with {d['with_restated']['restated']} "
            f"restated: {d['with_restated']['read_s'] + d['with_restated']['compare_s']:.3f} s"
        )
    print(f"detection, all three timeframes of a tick: {total:.3f} s added [target: <= 10 % of the tick]")
    r = figures["replace_25y_daily"]
    print(f"replace one 25-year daily series: {r['bars']} bars, {r['bars_replaced']} replaced in {r['seconds']} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickers", type=int, default=1_600)
    parser.add_argument("--bars", type=int, default=2_000, help="stored bars per series and timeframe")
    parser.add_argument("--restated", type=int, default=20, help="series restated in the second pass")
    parser.add_argument("--database", default="vm_bench_restatement")
    parser.add_argument("--json", default="artifacts/bench-restatement.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
