"""Exchange-rule checks on candles, per (ticker, tf): no unexplained jump beyond the band; adjusted close vs finfo."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg

from vietmarket_core.market import INDEX_TICKERS, Timeframe, trading_date_of
from vietmarket_core.sqlfiles import load_sql, timeframe_sql
from vietmarket_pipelines.defs.candles.checks import candle_check, per_partition, series_in_run
from vietmarket_pipelines.defs.common.partition_checks import Finding, PartitionedCheckOutput, check_since_ms
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.exchange_rules import (
    BAND,
    NAMED_DATES,
    RuleFinding,
    band_fraction,
    beyond_band,
    day_band,
    fmt,
    jump_beyond_band,
    jump_rule,
)
from vietmarket_pipelines.prices import HALF_SMALLEST_TICK
from vietmarket_pipelines.timescale.candle_store import CandleStore

PACKAGE = __package__ or "vietmarket_pipelines.defs.candles"

# Providers whose candles are back-adjusted (see providers.md, "Adjusted or raw").
ADJUSTED_SOURCES = ("vci", "ssi")
# Each side's adjusted close is rounded to within half the smallest tick, so two closes on one
# basis differ by at most one smallest tick (10 VND); more is a different basis or a wrong bar.
CLOSE_TOLERANCE = 2 * HALF_SMALLEST_TICK + 1e-9


@dataclass(frozen=True)
class JumpCandidate:
    """One row of jump_candidates.sql: a day's range after the previous trading day's, with its band."""

    ticker: str
    day_ts: int
    prev_ts: int
    prev_low: float
    prev_high: float
    low: float
    high: float
    exchange: str | None
    reference: float | None
    floor: float | None
    ceiling: float | None
    prev_raw_low: float | None
    prev_raw_high: float | None
    ex_dates: list[date]

    def band(self, exchange: str) -> tuple[float, float]:
        """The day's real band when daily_prices has it, else the exchange's normal band."""
        if self.reference is not None and self.floor is not None and self.ceiling is not None:
            return day_band(self.reference, self.floor, self.ceiling)
        fraction = band_fraction(exchange)
        return fraction, fraction

    def explained(self, exchange: str) -> bool:
        """A corporate action went ex in between, or the exchange adjusted the day's reference.

        The reference normally lies inside the previous trading date's raw range; one set outside it
        by a tick or more is the exchange's adjustment on an ex-date (a cash dividend's too, which
        the adjusted series of VCI, SSI and finfo do not adjust for), whether or not the action is in
        corporate_actions.
        """
        if self.ex_dates:
            return True
        if self.reference is None or self.prev_raw_low is None or self.prev_raw_high is None:
            return False
        return beyond_band(self.reference, self.reference, self.prev_raw_low, self.prev_raw_high, exchange)

    def finding(self, exchange: str) -> RuleFinding:
        down, up = self.band(exchange)
        previous = trading_date_of(self.prev_ts, "1d").isoformat()
        values = (
            f"low {fmt(self.low)} high {fmt(self.high)} after {previous}'s "
            f"low {fmt(self.prev_low)} high {fmt(self.prev_high)}, band -{down:.2%}/+{up:.2%}"
        )
        return RuleFinding(self.ticker, trading_date_of(self.day_ts, "1d"), jump_rule(exchange), values)


def jump_candidates(store: CandleStore, tf: Timeframe, tickers: Sequence[str], since_ms: int) -> list[JumpCandidate]:
    params = {"tickers": list(tickers), "tf": tf, "since": since_ms, "tightest": min(BAND.values())}
    rows = store.rows(f"jump candidates {tf}", timeframe_sql(PACKAGE, "jump_candidates.sql")[tf], params)
    return [JumpCandidate(*row) for row in rows]


@dataclass(frozen=True)
class Jumps:
    """A series' jumps beyond the band: those no corporate action explains, and how many one does."""

    unexplained: list[RuleFinding]
    explained: int


def judge_jumps(candidates: Sequence[JumpCandidate]) -> dict[str, Jumps]:
    """Per ticker, its candidates that really break the band (one tick of rounding), split by explanation.

    Indices have no band, and a ticker with no known exchange cannot be judged: both are left out.
    """
    unexplained: dict[str, list[RuleFinding]] = {}
    explained: dict[str, int] = {}
    for c in candidates:
        exchange = c.exchange
        if exchange is None or c.ticker in INDEX_TICKERS:
            continue
        if not jump_beyond_band((c.prev_low, c.prev_high), (c.low, c.high), c.band(exchange), exchange):
            continue
        if c.explained(exchange):
            explained[c.ticker] = explained.get(c.ticker, 0) + 1
        else:
            unexplained.setdefault(c.ticker, []).append(c.finding(exchange))
    return {t: Jumps(unexplained.get(t, []), explained.get(t, 0)) for t in {*unexplained, *explained}}


def rule_finding(found: Sequence[RuleFinding], total: int, what: str, counts: dict[str, Any]) -> Finding:
    """A series' finding: how many, the first in full (ticker, date, values, rule), the dates named."""
    dates = [f.day.isoformat() for f in found[:NAMED_DATES]]
    return Finding(
        f"{total} {what}, first {found[0].text()}",
        {**counts, "rule": found[0].rule, "dates": dg.MetadataValue.json(dates)},
    )


@candle_check(
    description="No trading date's range leaves the day's band (daily_prices' floor and ceiling around the "
    "reference, else the exchange's ±7/10/15 %) around the previous trading date's range, one tick of "
    "rounding allowed, unless a corporate action went ex in between (corporate_actions, or a reference the exchange "
    "set outside the previous day's raw range). Intraday bars are judged as their "
    "date's range. WARN: the provider's prices are kept; a mixed adjustment basis shows up here.",
)
def no_unexplained_jump(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    store = timescale.store()
    findings = {}
    explained = 0
    for tf, tickers in series_in_run(context).items():
        for ticker, jumps in judge_jumps(jump_candidates(store, tf, tickers, check_since_ms(context))).items():
            explained += jumps.explained
            if jumps.unexplained:
                counts = {"jumps_unexplained": len(jumps.unexplained), "jumps_explained": jumps.explained}
                findings[ticker, tf] = rule_finding(
                    jumps.unexplained, len(jumps.unexplained), f"unexplained ({jumps.explained} explained)", counts
                )
    yield from per_partition(
        context, findings, "jumps beyond the band", dg.AssetCheckSeverity.WARN,
        {"jumps_explained_in_run": explained},
    )  # fmt: skip


@dataclass(frozen=True)
class CloseComparison:
    """One series' 1d closes against finfo's adClose: how many compared, and the differing ones."""

    ticker: str
    compared: int
    differing: int
    ts: list[int]
    close: list[float]
    ad_close: list[float]

    def findings(self) -> list[RuleFinding]:
        rule = f"adjusted close equals finfo adClose within {fmt(CLOSE_TOLERANCE)} thousand VND"
        return [
            RuleFinding(self.ticker, trading_date_of(ts, "1d"), rule, f"close {fmt(c)} vs finfo adClose {fmt(ad)}")
            for ts, c, ad in zip(self.ts, self.close, self.ad_close, strict=True)
        ]


def close_comparisons(store: CandleStore, tickers: Sequence[str], since_ms: int) -> list[CloseComparison]:
    params = {
        "tickers": list(tickers),
        "since": since_ms,
        "sources": list(ADJUSTED_SOURCES),
        "tolerance": CLOSE_TOLERANCE,
        "sample": NAMED_DATES,
    }
    rows = store.rows("adjusted close vs finfo", load_sql(PACKAGE, "adjusted_close_vs_finfo.sql"), params)
    return [
        CloseComparison(str(t), int(n), int(bad), list(ts or []), list(c or []), list(ad or []))
        for t, n, bad, ts, c, ad in rows
    ]


@candle_check(
    description="A 1d series from an adjusting provider (VCI, SSI) closes where finfo's adClose does, within "
    "one smallest tick, on every date both have; the finding names the dates that differ. WARN: either side "
    "may be on an older basis. 1h and 15m have no finfo counterpart and pass with nothing compared.",
)
def adjusted_close_matches_finfo(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource
) -> PartitionedCheckOutput:
    tickers = series_in_run(context).get("1d", [])
    findings: dict[tuple[str, Timeframe], Finding] = {}
    compared = 0
    for comparison in close_comparisons(timescale.store(), tickers, check_since_ms(context)) if tickers else []:
        compared += comparison.compared
        if comparison.differing:
            counts = {"closes_compared": comparison.compared, "closes_differing": comparison.differing}
            findings[comparison.ticker, "1d"] = rule_finding(
                comparison.findings(), comparison.differing, f"of {comparison.compared} differ", counts
            )
    yield from per_partition(
        context, findings, "closes off finfo's adClose", dg.AssetCheckSeverity.WARN,
        {"closes_compared_in_run": compared},
    )  # fmt: skip


CANDLE_RULE_CHECKS: Sequence[dg.AssetChecksDefinition] = (no_unexplained_jump, adjusted_close_matches_finfo)
