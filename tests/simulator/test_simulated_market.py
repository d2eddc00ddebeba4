"""The simulated market is realistic where the platform depends on it, and deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np

from tests.conftest import SIM_NOW
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.simulator.market import SimulatedMarket

TODAY = SIM_NOW.date()


def test_the_universe_has_the_market_shape() -> None:
    market = SimulatedMarket()
    stocks = market.listed_stocks()
    assert Counter(t.exchange for t in stocks) == {"HOSE": 390, "HNX": 310, "UPCOM": 890}
    assert {t.kind for t in market.tickers.values()} == {"STOCK", "CW", "ETF", "FU", "BOND", "INDEX"}
    assert SimulatedMarket().tickers == market.tickers, "same seed, same universe"


def test_minutes_add_up_to_the_daily_bar() -> None:
    market = SimulatedMarket()
    daily = market.daily("VCB", TODAY)
    days = [date.fromordinal(int(d)) for d in daily["day"][-3:]]
    minutes = market.minutes("VCB", days, TODAY)
    per_day = len(market.session_minutes("VCB"))
    for row, day in enumerate(days):
        m = {k: np.asarray(v)[row * per_day : (row + 1) * per_day] for k, v in minutes.items()}
        i = len(daily["day"]) - 3 + row
        assert m["o"][0] == daily["o"][i] and m["c"][-1] == daily["c"][i], day
        assert m["h"].max() == daily["h"][i] and m["l"].min() == daily["l"][i], day
        assert m["v"].sum() == daily["v"][i], day


def test_a_sessions_minutes_do_not_depend_on_the_window_asked_for() -> None:
    market = SimulatedMarket()
    days = [date.fromordinal(int(d)) for d in market.daily("FPT", TODAY)["day"][-5:]]
    wide = market.minutes("FPT", days, TODAY)
    narrow = market.minutes("FPT", days[-1:], TODAY)
    assert np.array_equal(np.asarray(wide["c"])[-len(narrow["c"]) :], np.asarray(narrow["c"]))


def test_sessions_follow_the_calendar_and_the_pre_2018_tet_closures() -> None:
    market = SimulatedMarket()
    sessions = set(market.sessions_until(TODAY))
    calendar = TradingCalendar()
    assert date(2026, 2, 14) not in sessions and date(2026, 2, 18) not in sessions  # Saturday, Tết
    assert date(2010, 2, 15) not in sessions and calendar.rule_says_trading(date(2010, 2, 15))
    assert all(d.weekday() < 5 for d in sessions)
