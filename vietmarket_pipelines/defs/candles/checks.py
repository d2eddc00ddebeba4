"""Candle checks, per (ticker, tf): OHLC and grid alignment block, gaps and freshness warn; calendar per run."""

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dagster as dg
import numpy as np
import numpy.typing as npt

from vietmarket_core.market import BAR_MS, VN_TZ, Timeframe, trading_date_of
from vietmarket_pipelines.calendar import AFTERNOON, BAR_OPENS, TradingCalendar
from vietmarket_pipelines.convex.mirror import series_key
from vietmarket_pipelines.defs.calendar.truth import (
    cross_check,
    observed_calendar,
    traded_dates,
)
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.gaps import find_gaps
from vietmarket_pipelines.defs.candles.io_manager import REJECTED_KEY
from vietmarket_pipelines.defs.candles.partitions import split_candle_key, tickers_by_timeframe
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.partition_checks import (
    Finding,
    PartitionedCheckOutput,
    check_since_ms,
    report_partitions,
)
from vietmarket_pipelines.defs.common.partition_checks import rejections_in_run as rejections_of_asset
from vietmarket_pipelines.defs.common.resources import TimescaleResource

# How old the newest bar may be, past the bar open the calendar expects, before it is stale.
FRESHNESS_LAG: dict[Timeframe, timedelta] = {
    "1d": timedelta(hours=1),
    "1h": timedelta(hours=1),
    "15m": timedelta(minutes=30),
}
DAY_MS = 86_400_000
ICT_OFFSET_MS = 7 * 3_600_000


def series_in_run(context: dg.AssetCheckExecutionContext) -> dict[Timeframe, list[str]]:
    return tickers_by_timeframe(context.partition_keys)


def bar_time(ts_ms: int) -> dg.TimestampMetadataValue:
    """A bar's ts as metadata the UI shows as a time, not as a number to plot."""
    return dg.MetadataValue.timestamp(ts_ms / 1000)


def _candle_label(key: str) -> tuple[str, Mapping[str, Any]]:
    ticker, tf = split_candle_key(key)
    return f"{ticker} {tf}", {"ticker": ticker, "tf": tf}


def per_partition(
    context: dg.AssetCheckExecutionContext,
    findings: Mapping[tuple[str, Timeframe], Finding],
    what: str,
    severity: dg.AssetCheckSeverity,
    metadata: Mapping[str, Any] | None = None,
) -> PartitionedCheckOutput:
    """Per-(ticker, tf) verdicts of the run, then its summary (`report_partitions`); a series without
    a finding passes.  The checks' queries already ran, one per timeframe."""
    by_key = {
        str(key): findings[series] for key in context.partition_keys if (series := split_candle_key(key)) in findings
    }
    yield from report_partitions(context, by_key, what, severity, _candle_label, metadata)


def candle_check(
    *, description: str, blocking: bool = False
) -> Callable[[Callable[..., PartitionedCheckOutput]], dg.AssetChecksDefinition]:
    """`@dg.asset_check` on candles for a check that yields `per_partition`: verdicts per (ticker, tf)
    partition on an unpartitioned check (see EVERY_PARTITION_UP_TO).

    Dagster runs generator checks, but its annotation admits only a returned `AssetCheckResult`.
    """
    decorator = dg.asset_check(asset=candles, blocking=blocking, description=description)
    return cast(Callable[[Callable[..., PartitionedCheckOutput]], dg.AssetChecksDefinition], decorator)


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


@candle_check(
    blocking=True,
    description="Every bar has l <= min(o, c) <= max(o, c) <= h and v >= 0.",
)
def ohlc_sanity(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    """Blocking, per partition: each (ticker, tf) of the run gets its own result; if any fails, the
    step fails after reporting them all, so nothing downstream of candles runs in this run, for any
    of its partitions.  The bars are already committed: a failed partition stays red in the checks
    tab until a later run of the check passes."""
    store = timescale.store()
    findings = {
        (ticker, tf): Finding(
            f"{bad} bad bars, first at ts={first}", {"bad_bars": bad, "first_bad_bar": bar_time(first)}
        )
        for tf, tickers in series_in_run(context).items()
        for ticker, (bad, first) in store.ohlc_violations(tf, tickers, check_since_ms(context)).items()
    }
    yield from per_partition(context, findings, "bars with impossible OHLC or volume", dg.AssetCheckSeverity.ERROR)


@candle_check(
    blocking=True,
    description="Every bar opens on its timeframe's market-wide session grid (Asia/Ho_Chi_Minh; every "
    "exchange's grid is part of it) on a trading day.",
)
def bar_alignment(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    """Blocking, per partition, exactly as `ohlc_sanity` is.  The grid is market-wide, not the
    exchange's (as `no_gaps`'s is): a stock that moved between exchanges keeps its history on the
    old exchange's grid, and `symbols` knows only where it is listed now."""
    store = timescale.store()
    calendar = observed_calendar(store)
    findings = {}
    for tf, tickers in series_in_run(context).items():
        for ticker, ts in store.bar_timestamps(tf, tickers, check_since_ms(context)).items():
            bad = off_grid(ts, tf, calendar)
            if len(bad):
                findings[ticker, tf] = Finding(
                    f"{len(bad)} bars off the grid, first at ts={int(bad[0])}",
                    {"off_grid_bars": len(bad), "first_off_grid_bar": bar_time(int(bad[0]))},
                )
    yield from per_partition(context, findings, "bars off the session grid", dg.AssetCheckSeverity.ERROR)


@candle_check(
    description="No bar missing between a series' first and newest bar, against the trading calendar "
    "corrected by the indices' own trading dates, on the grid of the ticker's exchange (`symbols`): HOSE "
    "never prints in the 09:00 and 14:30 15m bins, HNX not in the 14:30 one. Weekends and holidays are "
    "never gaps.",
)
def no_gaps(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    store = timescale.store()
    calendar = observed_calendar(store)
    by_tf = series_in_run(context)
    # Each series is judged on its exchange's grid; one read for the whole run.
    exchanges = store.exchanges(sorted({t for tickers in by_tf.values() for t in tickers}))
    findings = {}
    for tf, tickers in by_tf.items():
        for ticker, ts in store.bar_timestamps(tf, tickers, check_since_ms(context)).items():
            gaps = find_gaps(ticker, tf, ts, calendar, exchange=exchanges.get(ticker))
            if gaps.missing_ts:
                findings[ticker, tf] = Finding(
                    f"{len(gaps.missing_ts)} of {gaps.expected} bars missing, first at ts={gaps.first_missing}",
                    {
                        "bars_missing": len(gaps.missing_ts),
                        "bars_expected": gaps.expected,
                        "first_missing_bar": bar_time(int(gaps.missing_ts[0])),
                    },
                )
    yield from per_partition(context, findings, "missing bars", dg.AssetCheckSeverity.WARN)


def bar_due(ts: int, tf: Timeframe) -> datetime:
    """When a bar should be stored: its session's close (1d) or its own close, plus FRESHNESS_LAG."""
    if tf == "1d":
        close = datetime.combine(trading_date_of(ts, "1d"), AFTERNOON[1], tzinfo=VN_TZ)
    else:
        close = datetime.fromtimestamp((ts + BAR_MS[tf]) / 1000, tz=UTC)
    return close + FRESHNESS_LAG[tf]


def expected_newest(tf: Timeframe, now: datetime, calendar: TradingCalendar, exchange: str | None = None) -> int:
    """The newest bar that should be stored by `now` on `exchange`'s grid."""
    day = now.astimezone(VN_TZ).date()
    for _ in range(60):
        if calendar.is_trading_day(day):
            due = [ts for ts in calendar.bar_ts(day, tf, exchange) if bar_due(ts, tf) <= now]
            if due:
                return max(due)
        day -= timedelta(days=1)
    raise ValueError(f"no trading day in the 60 days before {now.isoformat()}")


@candle_check(
    description="The newest bar is stored within FRESHNESS_LAG of its close (1d: 1 h after 15:00 ICT; 1h: 1 h; "
    "15m: 30 min), judged against the trading calendar.",
)
def freshness(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    store = timescale.store()
    calendar = observed_calendar(store)
    now = datetime.now(UTC)
    by_tf = series_in_run(context)
    exchanges = store.exchanges(sorted({t for tickers in by_tf.values() for t in tickers}))
    findings = {}
    for tf, tickers in by_tf.items():
        wants = {x: expected_newest(tf, now, calendar, x) for x in {exchanges.get(t) for t in tickers}}
        newest = store.newest_ts(tf, tickers)
        for ticker in tickers:
            want = wants[exchanges.get(ticker)]
            have = newest.get(ticker)
            if have is None or have < want:
                findings[ticker, tf] = Finding(
                    f"newest bar ts={have}, expected >= {want}",
                    {
                        "newest_bar": bar_time(have) if have is not None else "none",
                        "expected_newest_bar": bar_time(want),
                    },
                )
    yield from per_partition(context, findings, "stale series", dg.AssetCheckSeverity.WARN)


# Not partitioned: it judges the market calendar, once per run, whichever partitions the run covers.
@dg.asset_check(
    asset=candles,
    description="The rule-based trading calendar agrees with the stored `trading_calendar`: the dates on which "
    "the indices (VNINDEX first) actually traded.",
)
def calendar_matches_vnindex(timescale: TimescaleResource) -> dg.AssetCheckResult:
    traded = traded_dates(timescale.store())
    report = cross_check(traded)
    disagreements = report.closed_but_rule_says_open + report.traded_but_rule_says_closed
    return dg.AssetCheckResult(
        passed=bool(traded) and not report.traded_but_rule_says_closed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if traded else "no trading calendar stored yet: materialize `trading_calendar`",
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


def rejections_in_run(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Partition key -> why its fetch was rejected, from this run's candle materializations."""
    return rejections_of_asset(instance, run_id, candles.key, REJECTED_KEY)


@candle_check(
    blocking=True,
    description="The provider's answer for this partition was accepted. A rejected partition (a malformed "
    "payload, a provider that kept failing) has nothing written and fails here alone, naming provider, "
    "ticker, timeframe and the problem; the next tick fetches it again.",
)
def fetch_accepted(context: dg.AssetCheckExecutionContext) -> PartitionedCheckOutput:
    """Blocking, per partition: a rejected partition turns the run red after every other partition
    was written, materialized and checked (why this lives in a check: ARCHITECTURE.md)."""
    findings = {}
    for key, problem in rejections_in_run(context.instance, context.run.run_id).items():
        ticker, tf = split_candle_key(key)
        findings[ticker, tf] = Finding(problem, {"problem": problem})
    yield from per_partition(context, findings, "fetch rejected", dg.AssetCheckSeverity.ERROR)


@candle_check(description="Every mirrored series of this run reached Convex.")
def candles_convex_mirror_in_sync(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource, convex: ConvexMirrorResource
) -> PartitionedCheckOutput:
    series = [(ticker, tf) for tf, tickers in series_in_run(context).items() for ticker in tickers]
    if not convex.enabled:
        yield from per_partition(context, {}, "", dg.AssetCheckSeverity.WARN, {"convex_mirror": "off"})
        return
    # One read for the whole run, however many partitions it covers.
    out = convex.out_of_sync(timescale.store(), [series_key(t, tf) for t, tf in series])
    findings = {
        (t, tf): Finding(out[series_key(t, tf)], {"mirror_state": out[series_key(t, tf)]})
        for t, tf in series
        if series_key(t, tf) in out
    }
    yield from per_partition(context, findings, "not mirrored to Convex", dg.AssetCheckSeverity.WARN)


CANDLE_CHECKS: Sequence[dg.AssetChecksDefinition] = (
    fetch_accepted,
    ohlc_sanity,
    bar_alignment,
    no_gaps,
    freshness,
    calendar_matches_vnindex,
)
