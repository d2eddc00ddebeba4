"""Each exchange's bar grid follows its sessions: what its minute feed prints is what no_gaps expects."""

from __future__ import annotations

from datetime import date, datetime, time

import dagster as dg
import pytest

from tests.candles.conftest import materialize_candles
from tests.candles.test_checks import by_partition, plant
from tests.conftest import MigratedDatabase, metadata_values
from vietmarket_core.market import VN_TZ, Timeframe, intraday_bar_ts
from vietmarket_pipelines.calendar import BAR_OPENS, TradingCalendar, bar_opens
from vietmarket_pipelines.defs.candles.checks import expected_newest
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.simulator.server import SimulatorServer

RECENT = {"full_refetch": True, "start_date": "2026-02-02"}
# One listed stock per exchange, and the indices computed on each.
STOCKS = {"HOSE": "VCB", "HNX": "SHS", "UPCOM": "ACV"}
INDICES = {"HOSE": "VNINDEX", "HNX": "HNXINDEX", "UPCOM": "UPCOMINDEX"}


def list_symbols(db: MigratedDatabase) -> None:
    """The `symbols` rows of the tickers under test, as the universe asset writes them (the whole
    listing would put every ticker between them into a range run)."""
    rows = [(t, x, "stock") for x, t in STOCKS.items()] + [(t, x, "index") for x, t in INDICES.items()]
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO symbols (ticker, exchange, kind) VALUES (%s, %s, %s)", rows)
    conn.close()


def test_each_exchange_grid_has_the_bins_its_sessions_print() -> None:
    hose, hnx, upcom = (bar_opens("15m", x) for x in ("HOSE", "HNX", "UPCOM"))
    assert len(hose) == 16 and time(9, 0) not in hose and time(14, 30) not in hose
    assert hose[0] == time(9, 15) and hose[-1] == time(14, 45)
    assert len(hnx) == 17 and time(9, 0) in hnx and time(14, 30) not in hnx and time(14, 45) in hnx
    assert upcom == BAR_OPENS["15m"] and len(upcom) == 18
    # Every exchange's grid is inside the market-wide one, which bar_alignment accepts.
    assert set(hose) < set(hnx) < set(upcom)
    for tf in ("1h", "1d"):
        assert bar_opens(tf, "HOSE") == bar_opens(tf, "HNX") == bar_opens(tf, "UPCOM") == BAR_OPENS[tf]
    assert bar_opens("15m", None) == BAR_OPENS["15m"], "an unknown exchange gets the market-wide grid"


def test_the_issue_count_five_of_53_is_what_the_market_wide_grid_gets_wrong() -> None:
    """Three HOSE sessions from the 09:15 print to the ATC: 53 bins market-wide, 5 of them never traded."""
    calendar = TradingCalendar()
    days = (date(2026, 2, 11), date(2026, 2, 13))
    first = intraday_bar_ts(datetime(2026, 2, 11, 9, 15, tzinfo=VN_TZ))
    market_wide = [ts for ts in calendar.grid(*days, "15m") if ts >= first]
    hose = [ts for ts in calendar.grid(*days, "15m", "HOSE") if ts >= first]
    assert len(market_wide) == 53 and len(market_wide) - len(hose) == 5


@pytest.mark.parametrize("tf", ["15m", "1h"])
def test_simulated_series_of_every_exchange_have_no_gaps(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance, tf: Timeframe
) -> None:
    list_symbols(clean_db)
    tickers = [*STOCKS.values(), *INDICES.values()]
    result = materialize_candles(instance, clean_db, sim, tickers, tf, config=RECENT, checks=True)
    assert result.success
    checks = by_partition(result)
    for name in ("no_gaps", "bar_alignment"):
        verdicts = checks[name]
        assert set(verdicts) == {*(str(candle_key(t, tf)) for t in tickers), "None"}, name
        assert all(e.passed for e in verdicts.values()), [e.description for e in verdicts.values() if not e.passed]


def test_the_simulated_hose_feed_has_no_print_where_hose_does_not_trade(sim: SimulatorServer) -> None:
    market, today = sim.simulator.market, date(2026, 2, 13)
    for exchange, symbol in {**STOCKS, "VN30": "VN30"}.items():
        minutes = market.minutes(symbol, [today], today)
        bins = {datetime.fromtimestamp(int(t) - int(t) % 900, tz=VN_TZ).time() for t in minutes["t"]}
        assert tuple(sorted(bins)) == bar_opens("15m", "HOSE" if exchange == "VN30" else exchange), symbol


@pytest.mark.parametrize(
    ("exchange", "missing"),
    [("HOSE", time(14, 45)), ("HOSE", time(9, 15)), ("HNX", time(9, 0)), ("UPCOM", time(14, 30))],
)
def test_a_missing_bin_the_exchange_trades_still_warns(
    clean_db: MigratedDatabase,
    sim: SimulatorServer,
    instance: dg.DagsterInstance,
    exchange: str,
    missing: time,
) -> None:
    list_symbols(clean_db)
    ticker = STOCKS[exchange]
    assert materialize_candles(instance, clean_db, sim, [ticker], "15m", config=RECENT).success
    gone = intraday_bar_ts(datetime.combine(date(2026, 2, 4), missing, tzinfo=VN_TZ))
    plant(clean_db, "DELETE FROM candles_15m WHERE ticker = %s AND ts = %s", (ticker, gone))
    result = materialize_candles(instance, clean_db, sim, [ticker], "15m", checks=True)
    check = by_partition(result)["no_gaps"][str(candle_key(ticker, "15m"))]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    md = metadata_values(check.metadata)
    assert md["bars_missing"] == 1 and md["first_missing_bar"] == gone / 1000


def test_freshness_expects_the_newest_bin_the_exchange_prints() -> None:
    """At 15:20 the 14:30 bin is due market-wide, but HOSE and HNX never print it: their newest due
    bin is 14:15 until the 14:45 one is due at 15:30."""
    calendar = TradingCalendar()
    at_1520 = datetime(2026, 2, 13, 15, 20, tzinfo=VN_TZ)

    def bin_at(h: int, m: int) -> int:
        return intraday_bar_ts(datetime(2026, 2, 13, h, m, tzinfo=VN_TZ))

    assert expected_newest("15m", at_1520, calendar) == bin_at(14, 30)
    assert expected_newest("15m", at_1520, calendar, "UPCOM") == bin_at(14, 30)
    assert expected_newest("15m", at_1520, calendar, "HOSE") == bin_at(14, 15)
    assert expected_newest("15m", at_1520, calendar, "HNX") == bin_at(14, 15)
    at_1530 = datetime(2026, 2, 13, 15, 30, tzinfo=VN_TZ)
    assert expected_newest("15m", at_1530, calendar, "HOSE") == bin_at(14, 45)
