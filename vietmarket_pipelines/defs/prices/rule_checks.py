"""Exchange-rule checks on raw daily prices, per ticker: high and low inside the day's band, prices on the tick grid."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from vietmarket_core.market import trading_date_of
from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.defs.common.partition_checks import (
    Finding,
    PartitionedCheckOutput,
    check_since_ms,
    report_partitions,
)
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.prices.assets import daily_prices
from vietmarket_pipelines.defs.prices.checks import prices_check
from vietmarket_pipelines.exchange_rules import (
    NAMED_DATES,
    ON_TICK_TOLERANCE,
    RuleFinding,
    band_rule,
    beyond_band,
    fmt,
    off_tick_prices,
    tick_rule,
    tick_schedule,
)
from vietmarket_pipelines.timescale.candle_store import CandleStore

PACKAGE = __package__ or "vietmarket_pipelines.defs.prices"


@dataclass(frozen=True)
class BandCandidate:
    """One row of band_violations.sql: a raw bar outside its day's [floor, ceiling] by any amount."""

    ticker: str
    ts: int
    exchange: str
    low: float
    high: float
    floor: float
    ceiling: float

    def finding(self) -> RuleFinding | None:
        """The broken rule, or None when the bar is outside by less than a tick (rounding)."""
        if not beyond_band(self.low, self.high, self.floor, self.ceiling, self.exchange):
            return None
        values = (
            f"low {fmt(self.low)} high {fmt(self.high)} outside floor {fmt(self.floor)} ceiling {fmt(self.ceiling)}"
        )
        return RuleFinding(self.ticker, trading_date_of(self.ts, "1d"), band_rule(self.exchange), values)


def band_findings(store: CandleStore, tickers: Sequence[str], since_ms: int) -> dict[str, list[RuleFinding]]:
    """Per ticker, its raw bars a whole tick or more outside the day's band, oldest first."""
    params = {"tickers": list(tickers), "since": since_ms}
    rows = store.rows("daily band violations", load_sql(PACKAGE, "band_violations.sql"), params)
    found: dict[str, list[RuleFinding]] = {}
    for row in rows:
        finding = BandCandidate(*row).finding()
        if finding is not None:
            found.setdefault(finding.ticker, []).append(finding)
    return found


def tick_findings(store: CandleStore, tickers: Sequence[str], since_ms: int) -> dict[str, list[RuleFinding]]:
    """Per ticker, its raw bars with an open, high, low or close off the exchange's tick grid, oldest first."""
    schedule = tick_schedule()
    params: dict[str, Any] = {
        "tickers": list(tickers),
        "since": since_ms,
        "exchanges": [x for x, _, _ in schedule],
        "below": [below for _, below, _ in schedule],
        "ticks": [tick for _, _, tick in schedule],
        "tolerance": ON_TICK_TOLERANCE,
    }
    rows = store.rows("daily off-tick prices", load_sql(PACKAGE, "off_tick_prices.sql"), params)
    found: dict[str, list[RuleFinding]] = {}
    for ticker, ts, exchange, names, prices in rows:
        # The query and exchange_rules must agree; a bar only one of them calls off the grid is not reported.
        off = off_tick_prices(dict(zip(names, prices, strict=True)), exchange)
        if off:
            values = ", ".join(f"{name} {fmt(price)}" for name, price in off.items())
            found.setdefault(ticker, []).append(
                RuleFinding(ticker, trading_date_of(ts, "1d"), tick_rule(exchange), values)
            )
    return found


def ticker_label(key: str) -> tuple[str, dict[str, Any]]:
    return key, {"ticker": key}


def rule_verdicts(
    context: dg.AssetCheckExecutionContext, found: dict[str, list[RuleFinding]], what: str
) -> PartitionedCheckOutput:
    """One WARN verdict per ticker partition of the run, each failing one naming its first broken bar in full."""
    findings = {}
    for ticker, bad in found.items():
        dates = [f.day.isoformat() for f in bad[:NAMED_DATES]]
        metadata = {"days_failing": len(bad), "rule": bad[0].rule, "dates": dg.MetadataValue.json(dates)}
        findings[ticker] = Finding(f"{len(bad)} days, first {bad[0].text()}", metadata)
    yield from report_partitions(context, findings, what, dg.AssetCheckSeverity.WARN, ticker_label)


def run_tickers(context: dg.AssetCheckExecutionContext) -> list[str]:
    return [str(k) for k in context.partition_keys]


@prices_check(
    daily_prices,
    description="Every raw daily bar's high and low lie within that day's [floor, ceiling] as finfo reports it, "
    "less than one tick outside counting as rounding. WARN: finfo's prices are kept as sent.",
)
def raw_prices_within_band(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource
) -> PartitionedCheckOutput:
    found = band_findings(timescale.store(), run_tickers(context), check_since_ms(context))
    yield from rule_verdicts(context, found, "raw prices outside the day's band")


@prices_check(
    daily_prices,
    description="Every raw daily open, high, low and close lies on the exchange's tick grid (HOSE 10/50/100 VND "
    "by price level, HNX and UPCOM 100 VND). Indices have no tick rule. WARN: finfo's prices are kept as sent.",
)
def raw_prices_on_tick(context: dg.AssetCheckExecutionContext, timescale: TimescaleResource) -> PartitionedCheckOutput:
    found = tick_findings(timescale.store(), run_tickers(context), check_since_ms(context))
    yield from rule_verdicts(context, found, "raw prices off the tick grid")


PRICES_RULE_CHECKS: Sequence[dg.AssetChecksDefinition] = (raw_prices_within_band, raw_prices_on_tick)
