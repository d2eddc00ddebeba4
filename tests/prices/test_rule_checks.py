"""Exchange-rule checks on raw daily prices fail on a planted violation, name it, and pass on clean data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from tests.candles.conftest import market_data
from tests.candles.test_checks import plant
from tests.conftest import MigratedDatabase, inject
from tests.prices.conftest import check_evaluations
from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.defs.common.partitions import TICKERS
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RANGE_END_TAG, RANGE_START_TAG
from vietmarket_pipelines.defs.prices.assets import corporate_actions, daily_prices
from vietmarket_pipelines.defs.prices.rule_checks import PRICES_RULE_CHECKS
from vietmarket_pipelines.simulator.server import SimulatorServer

# One stock per exchange: HOSE, HNX, UPCOM.
TICKERS_RUN = ["VCB", "SHS", "ACV"]
OLD_DAY = date(2025, 6, 3)  # far before any incremental overlap, so a rerun leaves a planted row alone


def materialize(instance: dg.DagsterInstance, db: MigratedDatabase, server: SimulatorServer) -> dict[str, Any]:
    """daily_prices for TICKERS_RUN with the rule checks, in one range run: check name -> partition -> verdict."""
    known = instance.get_dynamic_partitions(TICKERS)
    instance.add_dynamic_partitions(TICKERS, [t for t in TICKERS_RUN if t not in known])
    ordered = [t for t in instance.get_dynamic_partitions(TICKERS) if t in TICKERS_RUN]
    result = dg.materialize(
        [daily_prices, corporate_actions, *PRICES_RULE_CHECKS],
        instance=instance,
        resources={"market_data": market_data(server), "timescale": TimescaleResource(dsn=db.writer_dsn, attempts=2)},
        tags={RANGE_START_TAG: ordered[0], RANGE_END_TAG: ordered[-1]},
        raise_on_error=False,
    )
    assert result.success, "the rule checks warn; they never stop ingest"
    verdicts = {c.name: check_evaluations(result, c.name) for spec in PRICES_RULE_CHECKS for c in spec.check_specs}
    for name, by_key in verdicts.items():
        assert set(by_key) == {*TICKERS_RUN, "None"}, name
        assert all(e.severity == dg.AssetCheckSeverity.WARN and not e.blocking for e in by_key.values())
    return verdicts


def test_clean_prices_on_every_exchange_pass(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    verdicts = materialize(instance, clean_db, fresh_sim)
    for name, by_key in verdicts.items():
        assert all(e.passed for e in by_key.values()), (name, [e.description for e in by_key.values()])


def test_a_provider_band_violation_warns_naming_ticker_date_values_and_rule(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    inject(fresh_sim, route="finfo-prices", fault="band_violation", symbol="VCB")
    band = materialize(instance, clean_db, fresh_sim)["raw_prices_within_band"]
    assert band["SHS"].passed and band["ACV"].passed
    failed = band["VCB"]
    assert not failed.passed and not band["None"].passed
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts, low, high, floor, ceiling FROM daily_prices WHERE ticker = 'VCB' AND high > ceiling")
        ((ts, low, high, floor, ceiling),) = cur.fetchall()
    conn.close()
    day = datetime.fromtimestamp(ts / 1000, tz=UTC).date().isoformat()
    assert failed.description == (
        f"VCB: raw prices outside the day's band: 1 days, first VCB {day}: low {low:g} high {high:g} outside floor "
        f"{floor:g} ceiling {ceiling:g} (rule: HOSE high and low within the day's [floor, ceiling], one tick of "
        "rounding allowed)"
    )
    assert failed.metadata["dates"].value == [day] and failed.metadata["days_failing"].value == 1


def test_an_off_tick_price_warns_per_exchange_grid(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    materialize(instance, clean_db, fresh_sim)
    # 20 VND on a HOSE price above 10,000 VND (tick 50); 50 VND on HNX (tick 100).  Neither is a
    # whole tick, so the band check still counts any overshoot as rounding.
    plant(
        clean_db,
        "UPDATE daily_prices SET high = high + 0.02 WHERE ticker = 'VCB' AND ts = %s",
        (daily_bar_ts(OLD_DAY),),
    )
    plant(
        clean_db,
        "UPDATE daily_prices SET high = high + 0.05 WHERE ticker = 'SHS' AND ts = %s",
        (daily_bar_ts(OLD_DAY),),
    )
    verdicts = materialize(instance, clean_db, fresh_sim)
    tick = verdicts["raw_prices_on_tick"]
    assert tick["ACV"].passed and not tick["VCB"].passed and not tick["SHS"].passed
    assert all(e.passed for e in verdicts["raw_prices_within_band"].values())
    vcb, shs = str(tick["VCB"].description), str(tick["SHS"].description)
    assert vcb.startswith(f"VCB: raw prices off the tick grid: 1 days, first VCB {OLD_DAY}: high ")
    assert vcb.endswith("(rule: HOSE tick: 10 VND below 10,000, 50 VND from 10,000 to 49,950, 100 VND from 50,000)")
    assert shs.startswith(f"SHS: raw prices off the tick grid: 1 days, first SHS {OLD_DAY}: high ")
    assert shs.endswith("(rule: HNX tick: 100 VND)")
    assert tick["SHS"].metadata["dates"].value == [OLD_DAY.isoformat()]
