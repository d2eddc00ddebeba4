"""Raw simulated prices obey the exchanges' rules: tick grid and daily band, checked with whole-VND arithmetic."""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

import numpy as np

from tests.conftest import SIM_NOW
from vietmarket_pipelines.simulator.market import REAL_TICKERS, SimulatedMarket

TODAY = SIM_NOW.date()
BAND = {"HOSE": Fraction(7, 100), "HNX": Fraction(10, 100), "UPCOM": Fraction(15, 100)}
FIRST_DAY = {"HOSE": Fraction(20, 100), "HNX": Fraction(30, 100), "UPCOM": Fraction(40, 100)}


def tick(vnd: int, exchange: str) -> int:
    if exchange != "HOSE":
        return 100
    return 10 if vnd < 10_000 else 50 if vnd < 50_000 else 100


def vnd(price: float) -> int:
    whole = round(price * 1000)
    assert abs(price * 1000 - whole) < 1e-6, f"{price} is not a whole number of VND"
    return whole


def ceiling_of(ref: int, pct: Fraction, exchange: str) -> int:
    x = ref * (1 + pct)
    t = tick(math.floor(x), exchange)
    return math.floor(x / t) * t


def floor_of(ref: int, pct: Fraction, exchange: str) -> int:
    x = ref * (1 - pct)
    t = tick(math.ceil(x), exchange)
    return math.ceil(x / t) * t


def sample_days(market: SimulatedMarket, symbol: str, n: int) -> list[int]:
    """The first trading day, every 97th, and each ex-date with the day after it."""
    days = market.prices(symbol, TODAY)["day"]
    picked = {0, *range(0, n, 97)}
    for action in market.calendar(symbol):
        i = int(np.searchsorted(days, action.ex_date.toordinal()))
        picked |= {i, i + 1}
    return sorted(i for i in picked if i < n)


def check_day(market: SimulatedMarket, symbol: str, i: int) -> None:
    exchange = market.tickers[symbol].exchange
    p = market.prices(symbol, TODAY)
    o, h, lo, c = (vnd(float(p[k][i])) for k in "ohlc")
    ref, ceiling, floor = (vnd(float(p[k][i])) for k in ("ref", "ceiling", "floor"))
    where = f"{symbol} {exchange} {date.fromordinal(int(p['day'][i]))}"
    for price in (o, h, lo, c, ref, ceiling, floor):
        assert price % tick(price, exchange) == 0, f"{where}: {price} VND is off the tick grid"
    pct = FIRST_DAY[exchange] if i == 0 else BAND[exchange]
    assert ceiling == ceiling_of(ref, pct, exchange) and floor == floor_of(ref, pct, exchange), where
    assert floor <= lo <= min(o, c) and max(o, c) <= h <= ceiling, (
        f"{where}: {(o, h, lo, c)} outside {floor}..{ceiling}"
    )
    if i == 0 or p["factor"][i] != p["factor"][i - 1] or p["cash"][i]:
        return
    prev = vnd(float(p["c"][i - 1])) if exchange != "UPCOM" else round(float(p["avg"][i - 1]) * 1000, 3)
    # HOSE and HNX: the previous close; UPCOM: the previous day's average, to the tick.
    assert abs(ref - prev) <= tick(ref, exchange) / 2, f"{where}: reference {ref} from {prev}"


def test_raw_prices_are_on_the_grid_and_inside_the_band_across_the_market() -> None:
    market = SimulatedMarket()
    real = {s for names in REAL_TICKERS.values() for s in names.split()}
    stocks = [t.symbol for i, t in enumerate(market.listed_stocks()) if i % 10 == 0 or t.symbol in real]
    assert {market.tickers[s].exchange for s in stocks} == {"HOSE", "HNX", "UPCOM"}
    checked = 0
    for symbol in stocks:
        n = len(market.prices(symbol, TODAY)["day"])
        for i in sample_days(market, symbol, n):
            check_day(market, symbol, i)
            checked += 1
    assert checked > 5000


def test_the_last_session_is_checked_everywhere() -> None:
    market = SimulatedMarket()
    for t in market.listed_stocks():
        n = len(market.prices(t.symbol, TODAY)["day"])
        check_day(market, t.symbol, n - 1)


def test_an_ex_date_reference_is_the_previous_close_adjusted() -> None:
    market = SimulatedMarket()
    p = market.prices("VCB", TODAY)
    adjusting = [a for a in market.calendar("VCB") if a.kind != "cash_dividend"]
    assert adjusting, "VCB has stock dividends, bonus shares or splits in the default calendar"
    for action in adjusting:
        i = int(np.searchsorted(p["day"], action.ex_date.toordinal()))
        expected = float(p["c"][i - 1]) * action.factor * 1000
        assert abs(vnd(float(p["ref"][i])) - expected) <= tick(round(expected), "HOSE") / 2, action


def test_raw_minutes_trade_on_the_grid_within_the_daily_bar() -> None:
    market = SimulatedMarket()
    for symbol in ("VCB", "SHS", "ACV", *(t.symbol for t in market.listed_stocks()[::150])):
        exchange = market.tickers[symbol].exchange
        daily = market.daily(symbol, TODAY, "raw")
        days = [date.fromordinal(int(d)) for d in daily["day"][-2:]]
        minutes = market.minutes(symbol, days, TODAY, "raw")
        for k in "ohlc":
            for price in np.asarray(minutes[k]).tolist():
                whole = vnd(price)
                assert whole % tick(whole, exchange) == 0, (symbol, k, price)
        assert np.asarray(minutes["h"]).max() <= daily["h"][-2:].max()
        assert np.asarray(minutes["l"]).min() >= daily["l"][-2:].min()
