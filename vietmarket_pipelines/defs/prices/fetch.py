"""One ticker's daily prices from finfo: incremental with an overlap, whole again when the adjusted basis moved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

import psycopg2.extensions

from vietmarket_core.market import INDEX_TICKERS, daily_bar_ts, trading_date_of
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.prices import HALF_SMALLEST_TICK, DailyPrice
from vietmarket_pipelines.providers.finfo import FinfoPricesClient
from vietmarket_pipelines.providers.http import ProviderError, ProviderUnavailable
from vietmarket_pipelines.timescale.daily_prices import (
    PriceUpsertStats,
    read_daily_prices,
    replace_daily_prices,
    upsert_daily_prices,
)

SOURCE = "finfo"
# Calendar days before the newest stored date that every incremental fetch asks for again: a week
# of sessions plus a holiday, so the overlap always holds stored rows to compare ratios on.
OVERLAP = timedelta(days=10)
# Before HOSE's first session (2000-07-28): a first fetch asks for everything finfo has.
FULL_HISTORY_START = date(2000, 1, 1)


def finfo_client(market_data: MarketDataResource) -> FinfoPricesClient:
    """finfo on the market-data resource's URL and politeness, paced by the shared budget (provider `finfo`)."""
    return FinfoPricesClient(
        market_data.vndirect_finfo_base_url, policy=market_data.policy(), pacer=market_data.pacer()
    )


@dataclass(frozen=True)
class BasisShift:
    """The overlap's evidence that finfo restated the adjusted prices: same dates, another ad_close/close."""

    first_date: date
    dates_compared: int
    dates_moved: int
    factor: float  # median new ratio / old ratio over the moved dates: < 1 after a split or stock dividend

    def describe(self) -> str:
        return (
            f"adjusted basis moved on {self.dates_moved} of {self.dates_compared} overlapping dates "
            f"from {self.first_date} (new/old adClose/close {self.factor:.6f})"
        )


def basis_shift(
    stored: Sequence[DailyPrice], fetched: Sequence[DailyPrice], *, half_tick: float = HALF_SMALLEST_TICK
) -> BasisShift | None:
    """Whether the fetched rows carry another adjustment ratio than the stored rows of the same dates.

    Each ad_close is rounded within `half_tick`, so on one date the two ratios may differ by
    half_tick / stored close + half_tick / fetched close (prices.adjustment_factors' bound); a
    larger difference on any date means finfo rescaled that history.  A revised raw bar whose
    adjusted prices follow it keeps its ratio and is an ordinary update.
    """
    old = {p.ts: p for p in stored}
    moved: list[tuple[int, float]] = []
    compared = 0
    for new in fetched:
        before = old.get(new.ts)
        if before is None:
            continue
        compared += 1
        bound = half_tick / before.close + half_tick / new.close + 1e-12
        if abs(new.adjustment_ratio - before.adjustment_ratio) > bound:
            moved.append((new.ts, new.adjustment_ratio / before.adjustment_ratio))
    if not moved:
        return None
    return BasisShift(trading_date_of(moved[0][0], "1d"), compared, len(moved), median(r for _, r in moved))


@dataclass(frozen=True)
class TickerPrices:
    """What one ticker's fetch and write did."""

    ticker: str
    fetched: int
    stats: PriceUpsertStats
    first_ts: int | None
    last_ts: int | None
    shift: BasisShift | None  # set when the whole history was refetched and replaced


@dataclass(frozen=True)
class RejectedTicker:
    """A ticker whose fetch failed: nothing was written for it, and its check names why."""

    ticker: str
    problem: str
    # An unavailable provider may answer on a retry; a malformed payload will not.
    retryable: bool

    @classmethod
    def of(cls, ticker: str, error: ProviderError) -> RejectedTicker:
        text = str(error)
        problem = text if ticker in text else f"finfo {ticker}: {text}"
        return cls(ticker, problem, isinstance(error, ProviderUnavailable))


class PriceFetcher:
    """Fetches and writes tickers one at a time: each one's rows in its own transaction."""

    def __init__(
        self,
        client: FinfoPricesClient,
        conn: psycopg2.extensions.connection,
        today: date,
        log: Callable[[str], None],
    ) -> None:
        self.client = client
        self.conn = conn
        self.today = today
        self.log = log

    def fetch(self, ticker: str, start: date) -> list[DailyPrice]:
        if ticker in INDEX_TICKERS:
            return self.client.index_prices(ticker, start, self.today)
        return self.client.stock_prices(ticker, start, self.today)

    def update(self, ticker: str, newest_ts: int | None) -> TickerPrices | RejectedTicker:
        """The ticker's new rows written (all of history on a first fetch or a basis shift), or its rejection."""
        try:
            if newest_ts is None:
                rows = self.fetch(ticker, FULL_HISTORY_START)
                return self._result(ticker, rows, upsert_daily_prices(self.conn, rows), None)
            start = trading_date_of(newest_ts, "1d") - OVERLAP
            rows = self.fetch(ticker, start)
            shift = basis_shift(read_daily_prices(self.conn, ticker, daily_bar_ts(start)), rows)
            if shift is None:
                return self._result(ticker, rows, upsert_daily_prices(self.conn, rows), None)
            self.log(f"finfo {ticker}: {shift.describe()}; refetching the whole history")
            rows = self.fetch(ticker, FULL_HISTORY_START)
            return self._result(ticker, rows, replace_daily_prices(self.conn, ticker, rows), shift)
        except ProviderError as exc:
            return RejectedTicker.of(ticker, exc)

    @staticmethod
    def _result(ticker: str, rows: list[DailyPrice], stats: PriceUpsertStats, shift: BasisShift | None) -> TickerPrices:
        first, last = (rows[0].ts, rows[-1].ts) if rows else (None, None)
        return TickerPrices(ticker, len(rows), stats, first, last, shift)
