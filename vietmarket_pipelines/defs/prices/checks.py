"""Prices checks per ticker: finfo's answer accepted (blocking); derived actions match VCI/SSI restatements (warn)."""

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

import dagster as dg

from vietmarket_pipelines.defs.common.partition_checks import (
    Finding,
    PartitionedCheckOutput,
    rejections_in_run,
    report_partitions,
)
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.prices.actions import SOURCE as ACTIONS_SOURCE
from vietmarket_pipelines.defs.prices.assets import REJECTED_KEY, corporate_actions, daily_prices
from vietmarket_pipelines.timescale.corporate_actions import (
    Restatement,
    StoredAction,
    daily_price_dates,
    read_corporate_actions,
    read_restatements,
)

# A restatement's estimated ex-date is where the candle fetch first saw old and new bars agree:
# exact when its overlap spanned the ex-date, a few sessions off when the fetch ran only later (or
# earlier bars were missing).  It matches a finfo action this many of the ticker's sessions either side.
MATCH_SESSIONS = 5
# Relative: VCI rounds to 1 VND and SSI to 10 VND, so a restatement's factor is good to about 0.1 %
# on a 10,000 VND share; the closest two real share ratios (5 % and 6 %) differ by about 1 %.
FACTOR_TOLERANCE = 0.005


def _ticker_label(key: str) -> tuple[str, Mapping[str, Any]]:
    return key, {"ticker": key}


def prices_check(
    asset: dg.AssetsDefinition, *, description: str, blocking: bool = False
) -> Callable[[Callable[..., PartitionedCheckOutput]], dg.AssetChecksDefinition]:
    """`@dg.asset_check` for a check that yields per-ticker verdicts (`report_partitions`).

    Dagster runs generator checks, but its annotation admits only a returned `AssetCheckResult`.
    """
    decorator = dg.asset_check(asset=asset, blocking=blocking, description=description)
    return cast(Callable[[Callable[..., PartitionedCheckOutput]], dg.AssetChecksDefinition], decorator)


@prices_check(
    daily_prices,
    blocking=True,
    description="finfo's answer for this ticker was accepted. A rejected ticker (a malformed payload, paging cut "
    "short, finfo unavailable) has nothing written and fails here alone, naming ticker and field; the next run "
    "fetches it again.",
)
def daily_prices_fetch_accepted(context: dg.AssetCheckExecutionContext) -> PartitionedCheckOutput:
    findings = {
        key: Finding(problem, {"problem": problem})
        for key, problem in rejections_in_run(
            context.instance, context.run.run_id, daily_prices.key, REJECTED_KEY
        ).items()
    }
    yield from report_partitions(context, findings, "fetch rejected", dg.AssetCheckSeverity.ERROR, _ticker_label)


def _describe_restatement(r: Restatement) -> str:
    detected = r.detected_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{r.source} {r.tf} restatement (detected {detected}) factor {r.factor:.6f} from {r.estimated_ex_date}"


def disagreement(r: Restatement, actions: Sequence[StoredAction], dates: Sequence[date]) -> str | None:
    """Why finfo's actions do not explain restatement `r`, or None when one (or the product of those
    within MATCH_SESSIONS) has its factor within FACTOR_TOLERANCE; None too when finfo's stored
    dates do not reach r's date (nothing to judge yet)."""
    when = r.estimated_ex_date
    if when is None or not dates or not dates[0] < when <= dates[-1]:
        return None
    at = bisect_left(dates, when)
    near = [a for a in actions if abs(bisect_left(dates, a.ex_date) - at) <= MATCH_SESSIONS]
    product = 1.0
    for a in near:
        product *= a.factor
    candidates = [a.factor for a in near] + ([product] if len(near) > 1 else [])
    if any(abs(f / r.factor - 1) <= FACTOR_TOLERANCE for f in candidates):
        return None
    if not near:
        return f"{_describe_restatement(r)}, but finfo shows no action within {MATCH_SESSIONS} sessions of it"
    listed = ", ".join(f"{a.ex_date} factor {a.factor:.6f}" for a in near)
    return f"{_describe_restatement(r)}, but finfo's action is {listed}"


def restatement_findings(
    restatements: Sequence[Restatement],
    actions: Mapping[str, Sequence[StoredAction]],
    dates: Mapping[str, Sequence[date]],
) -> dict[str, Finding]:
    """Ticker -> what disagrees: every restatement finfo's actions do not explain, named with both sides."""
    problems: dict[str, list[str]] = {}
    for r in restatements:
        problem = disagreement(r, actions.get(r.ticker, ()), dates.get(r.ticker, ()))
        if problem is not None:
            problems.setdefault(r.ticker, []).append(problem)
    return {
        ticker: Finding("; ".join(lines), {"disagreements": len(lines), "first_disagreement": lines[0]})
        for ticker, lines in problems.items()
    }


@prices_check(
    corporate_actions,
    description=f"Every restatement VCI or SSI made of this ticker's candles (series_restatements) matches a finfo "
    f"action: ex-date within {MATCH_SESSIONS} sessions of the restatement's estimated ex-date, factor within "
    f"{FACTOR_TOLERANCE:.1%}. A disagreement names the restatement's source, date and factor and finfo's action.",
)
def actions_match_restatements(
    context: dg.AssetCheckExecutionContext, timescale: TimescaleResource
) -> PartitionedCheckOutput:
    tickers = [str(k) for k in context.partition_keys]
    with timescale.store().connection() as conn:
        restatements = read_restatements(conn, tickers, ACTIONS_SOURCE)
        restated = sorted({r.ticker for r in restatements})
        actions = read_corporate_actions(conn, restated, ACTIONS_SOURCE)
        dates = {
            t: [datetime.fromtimestamp(ts / 1000, tz=UTC).date() for ts in stamps]
            for t, stamps in daily_price_dates(conn, restated).items()
        }
    findings = restatement_findings(restatements, actions, dates)
    yield from report_partitions(
        context,
        findings,
        "corporate actions disagree with a restatement",
        dg.AssetCheckSeverity.WARN,
        _ticker_label,
        {"restatements_read": len(restatements)},
    )


PRICES_CHECKS: Sequence[dg.AssetChecksDefinition] = (daily_prices_fetch_accepted, actions_match_restatements)
