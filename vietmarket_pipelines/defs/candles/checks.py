"""Asset checks on candles: OHLC sanity and grid alignment block; gaps, freshness and calendar warn."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import dagster as dg
import numpy as np
import numpy.typing as npt
from psycopg2 import sql

from vietmarket_core.market import BAR_MS, CANDLE_TABLES, VN_TZ, Timeframe, trading_date_of
from vietmarket_pipelines.calendar import AFTERNOON, BAR_OPENS, TradingCalendar
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.calendar_truth import (
    cross_check,
    observed_calendar,
    vnindex_trading_dates,
)
from vietmarket_pipelines.defs.candles.fetch_check import candles_fetch_accepted
from vietmarket_pipelines.defs.candles.gaps import find_gaps
from vietmarket_pipelines.defs.candles.partitions import split_candle_key
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RunMode
from vietmarket_pipelines.timescale.candle_store import CandleStore

SQL_DIR = Path(__file__).parent
SAMPLE = 25
# How old the newest bar may be, past the bar open the calendar expects, before it is stale.
FRESHNESS_LAG: dict[Timeframe, timedelta] = {
    "1d": timedelta(hours=1),
    "1h": timedelta(hours=1),
    "15m": timedelta(minutes=30),
}
DAY_MS = 86_400_000
ICT_OFFSET_MS = 7 * 3_600_000


@cache
def _sql(name: str, tf: Timeframe) -> sql.Composed:
    return sql.SQL((SQL_DIR / name).read_text(encoding="utf-8")).format(table=sql.Identifier(CANDLE_TABLES[tf]))


# Scheduled latest/close runs rewrite only the newest bars; their checks look at this much history
# (the fetch overlap and then some).  Backfills and repairs check whole series.
RECENT_WINDOW = timedelta(days=14)


def check_since_ms(context: dg.AssetCheckExecutionContext) -> int:
    """The first ts a check looks at: recent for scheduled ticks, everything otherwise."""
    if RunMode.of(context.op_execution_context.run.tags).is_tick:
        return int((datetime.now(UTC) - RECENT_WINDOW).timestamp() * 1000)
    return 0


def series_in_run(context: dg.AssetCheckExecutionContext) -> dict[Timeframe, list[str]]:
    by_tf: dict[Timeframe, list[str]] = defaultdict(list)
    for key in context.op_execution_context.partition_keys:
        ticker, tf = split_candle_key(key)
        by_tf[tf].append(ticker)
    return by_tf


def stored_ts(
    store: CandleStore, tf: Timeframe, tickers: list[str], since_ms: int = 0
) -> dict[str, npt.NDArray[np.int64]]:
    with store.connection() as conn, conn.cursor() as cur:
        cur.execute(_sql("series_ts.sql", tf), {"tickers": tickers, "tf": tf, "since": since_ms})
        return {str(t): np.array(ts, dtype=np.int64) for t, ts in cur.fetchall()}


def off_grid(ts: npt.NDArray[np.int64], tf: Timeframe, calendar: TradingCalendar) -> npt.NDArray[np.int64]:
    """Bars whose open is not a bar open of `tf` on a trading day (vectorized over the series)."""
    if tf == "1d":
        on_time = ts % DAY_MS == 0
        local_day = ts // DAY_MS
    else:
        local = ts + ICT_OFFSET_MS
        allowed = np.array([(t.hour * 60 + t.minute) * 60_000 for t in BAR_OPENS[tf]], dtype=np.int64)
        on_time = np.isin(local % DAY_MS, allowed)
        local_day = local // DAY_MS
    days, inverse = np.unique(local_day, return_inverse=True)
    epoch = datetime(1970, 1, 1, tzinfo=UTC).date()
    trading = np.array([calendar.is_trading_day(epoch + timedelta(days=int(d))) for d in days], dtype=bool)
    return np.asarray(ts[~(on_time & trading[inverse])], dtype=np.int64)


def _result(
    failing: dict[str, str], checked: int, description: str, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    sample = dict(sorted(failing.items())[:SAMPLE])
    return dg.AssetCheckResult(
        passed=not failing,
        severity=severity,
        description=description if failing else None,
        metadata={
            "series_checked": checked,
            "series_failing": len(failing),
            "failing_sample": dg.MetadataValue.json(sample),
        },
    )


@dg.asset_check(
    asset=candles,
    blocking=True,
    description="Every bar has l <= min(o, c) <= max(o, c) <= h and v >= 0.",
)
def ohlc_sanity(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> dg.AssetCheckResult:
    store = timescale.store()
    failing: dict[str, str] = {}
    by_tf = series_in_run(context)
    with store.connection() as conn, conn.cursor() as cur:
        for tf, tickers in by_tf.items():
            cur.execute(
                _sql("ohlc_violations.sql", tf), {"tickers": tickers, "tf": tf, "since": check_since_ms(context)}
            )
            for ticker, bad, first_bad in cur.fetchall():
                failing[f"{ticker} {tf}"] = f"{bad} bad bars, first at ts={first_bad}"
    return _result(
        failing,
        sum(map(len, by_tf.values())),
        "bars with impossible OHLC or volume",
        dg.AssetCheckSeverity.ERROR,
    )


@dg.asset_check(
    asset=candles,
    blocking=True,
    description="Every bar opens on its timeframe's session grid (Asia/Ho_Chi_Minh) on a trading day.",
)
def bar_alignment(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> dg.AssetCheckResult:
    store = timescale.store()
    calendar = observed_calendar(store)
    failing: dict[str, str] = {}
    by_tf = series_in_run(context)
    for tf, tickers in by_tf.items():
        for ticker, ts in stored_ts(store, tf, tickers, check_since_ms(context)).items():
            bad = off_grid(ts, tf, calendar)
            if len(bad):
                failing[f"{ticker} {tf}"] = f"{len(bad)} bars off the grid, first at ts={int(bad[0])}"
    return _result(failing, sum(map(len, by_tf.values())), "bars off the session grid", dg.AssetCheckSeverity.ERROR)


@dg.asset_check(
    asset=candles,
    description="No bar missing between a series' first and newest bar, against the trading calendar "
    "corrected by VNINDEX's own trading dates. Weekends and holidays are never gaps.",
)
def no_gaps(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> dg.AssetCheckResult:
    store = timescale.store()
    calendar = observed_calendar(store)
    failing: dict[str, str] = {}
    by_tf = series_in_run(context)
    missing_total = 0
    for tf, tickers in by_tf.items():
        for ticker, ts in stored_ts(store, tf, tickers, check_since_ms(context)).items():
            gaps = find_gaps(ticker, tf, ts, calendar)
            if gaps.missing_ts:
                missing_total += len(gaps.missing_ts)
                failing[f"{ticker} {tf}"] = (
                    f"{len(gaps.missing_ts)} of {gaps.expected} bars missing, first at ts={gaps.first_missing}"
                )
    result = _result(failing, sum(map(len, by_tf.values())), "series with missing bars", dg.AssetCheckSeverity.WARN)
    return result.with_metadata({**result.metadata, "bars_missing": missing_total})


def bar_due(ts: int, tf: Timeframe) -> datetime:
    """When a bar should be stored: its session's close (1d) or its own close, plus FRESHNESS_LAG."""
    if tf == "1d":
        close = datetime.combine(trading_date_of(ts, "1d"), AFTERNOON[1], tzinfo=VN_TZ)
    else:
        close = datetime.fromtimestamp((ts + BAR_MS[tf]) / 1000, tz=UTC)
    return close + FRESHNESS_LAG[tf]


def expected_newest(tf: Timeframe, now: datetime, calendar: TradingCalendar) -> int:
    """The newest bar that should be stored by `now`."""
    day = now.astimezone(VN_TZ).date()
    for _ in range(60):
        if calendar.is_trading_day(day):
            due = [ts for ts in calendar.bar_ts(day, tf) if bar_due(ts, tf) <= now]
            if due:
                return max(due)
        day -= timedelta(days=1)
    raise ValueError(f"no trading day in the 60 days before {now.isoformat()}")


@dg.asset_check(
    asset=candles,
    description="The newest bar is stored within FRESHNESS_LAG of its close (1d: 1 h after 15:00 ICT; 1h: 1 h; "
    "15m: 30 min), judged against the trading calendar.",
)
def freshness(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> dg.AssetCheckResult:
    store = timescale.store()
    calendar = observed_calendar(store)
    now = datetime.now(UTC)
    failing: dict[str, str] = {}
    by_tf = series_in_run(context)
    for tf, tickers in by_tf.items():
        want = expected_newest(tf, now, calendar)
        newest = store.newest_ts(tf, tickers)
        for ticker in tickers:
            have = newest.get(ticker)
            if have is None or have < want:
                failing[f"{ticker} {tf}"] = f"newest bar ts={have}, expected >= {want}"
    return _result(failing, sum(map(len, by_tf.values())), "stale series", dg.AssetCheckSeverity.WARN)


@dg.asset_check(
    asset=candles,
    description="The rule-based trading calendar agrees with the dates on which VNINDEX actually traded.",
)
def calendar_matches_vnindex(timescale: TimescaleResource) -> dg.AssetCheckResult:
    traded = vnindex_trading_dates(timescale.store())
    report = cross_check(traded)
    disagreements = report.closed_but_rule_says_open + report.traded_but_rule_says_closed
    return dg.AssetCheckResult(
        passed=bool(traded) and not report.traded_but_rule_says_closed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if traded else "no VNINDEX history stored yet",
        metadata={
            "vnindex_first": str(report.first),
            "vnindex_last": str(report.last),
            "closed_but_rule_says_open": dg.MetadataValue.json(
                [str(d) for d in report.closed_but_rule_says_open[:200]]
            ),
            "traded_but_rule_says_closed": dg.MetadataValue.json(
                [str(d) for d in report.traded_but_rule_says_closed[:200]]
            ),
            "disagreements": len(disagreements),
        },
    )


CANDLE_CHECKS: Sequence[dg.AssetChecksDefinition] = (
    candles_fetch_accepted,
    ohlc_sanity,
    bar_alignment,
    no_gaps,
    freshness,
    calendar_matches_vnindex,
)
