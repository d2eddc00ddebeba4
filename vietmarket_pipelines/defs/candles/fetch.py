"""Fetching a run's candle partitions: each series' window, batched provider requests, and rejections."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from vietmarket_core.market import VN_TZ, Timeframe
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.run_tags import RunMode
from vietmarket_pipelines.providers.base import CandleProvider
from vietmarket_pipelines.providers.http import ProviderError, ProviderUnavailable
from vietmarket_pipelines.restatement import ReplacementSeries as ReplacementSeries  # re-exported: the partition kind
from vietmarket_pipelines.restatement import Restatement, compare_with_stored
from vietmarket_pipelines.timescale.candle_store import CandleStore, StoreReader

# An incremental fetch re-reads this much before the newest stored bar: providers revise recent
# bars (late prints, corrections), and an overlap costs little.
OVERLAP: dict[Timeframe, timedelta] = {
    "1d": timedelta(days=7),
    "1h": timedelta(days=3),
    "15m": timedelta(days=2),
}


@dataclass(frozen=True)
class RefetchRange:
    """A forced refetch of [start_date, end_date] (Asia/Ho_Chi_Minh dates, inclusive; None: unbounded)."""

    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class RejectedPartition:
    """A partition whose fetch failed: nothing is written for it, and its check names why."""

    provider: str
    ticker: str
    tf: Timeframe
    problem: str
    # A throttled or unreachable provider may answer on a retry; a malformed payload will not.
    retryable: bool

    @classmethod
    def of(cls, provider: str, ticker: str, tf: Timeframe, error: Exception) -> RejectedPartition:
        return cls(provider, ticker, tf, str(error), isinstance(error, ProviderUnavailable))

    @property
    def key(self) -> str:
        return str(candle_key(self.ticker, self.tf))

    def describe(self) -> str:
        """The problem, always naming provider, ticker and timeframe."""
        names = f"{self.provider} {self.ticker} {self.tf}"
        return self.problem if self.problem.startswith(names) else f"{names}: {self.problem}"


# What a fetch yields per partition: its validated bars, the whole series that replaces a
# restated one (ReplacementSeries lives with Restatement, so the store can take it), or why
# there are none.
FetchedPartition = BarSeries | ReplacementSeries | RejectedPartition


@dataclass(frozen=True)
class CandleFetch:
    """What the candles asset hands to its IO manager.

    `partitions` may still be arriving (fetched in a thread while the IO manager writes); each item
    is complete when it arrives, so nothing is filled in behind the consumer's back.
    """

    mode: RunMode
    partitions: Iterable[FetchedPartition]


def vn_start_of(d: date) -> datetime:
    return datetime.combine(d, clock_time(0), tzinfo=VN_TZ)


def fetch_window(
    refetch: RefetchRange | None, tf: Timeframe, newest_ts: int | None, now: datetime
) -> tuple[datetime | None, datetime]:
    """[start, end] to fetch for one series; start None means its full history."""
    if refetch is not None:
        start = vn_start_of(refetch.start_date) if refetch.start_date else None
        end = vn_start_of(refetch.end_date) + timedelta(days=1, seconds=-1) if refetch.end_date else now
        return start, min(end, now)
    if newest_ts is None:
        return None, now
    return datetime.fromtimestamp(newest_ts / 1000, tz=UTC) - OVERLAP[tf], now


@dataclass(frozen=True)
class CandleFetcher:
    """Fetches series a provider batch at a time, grouping tickers that share a provider and a start day."""

    market_data: MarketDataResource
    store: CandleStore
    refetch: RefetchRange | None
    now: datetime
    log: Callable[[str], None]

    def fetch(self, by_tf: dict[Timeframe, list[str]]) -> Iterator[FetchedPartition]:
        # The overlap reads of every chunk share one connection.
        with self.store.reader() as reader:
            for tf, tickers in by_tf.items():
                yield from self.fetch_timeframe(tf, tickers, reader)

    def fetch_timeframe(self, tf: Timeframe, tickers: list[str], reader: StoreReader) -> Iterator[FetchedPartition]:
        started = time.monotonic()
        bars = series = 0
        for (provider_name, start, end), group in self._groups(tf, tickers).items():
            for item in self._fetch_group(Source(provider_name, tf, end, reader), group, start):
                if isinstance(item, BarSeries | ReplacementSeries):
                    bars, series = bars + len(item.series if isinstance(item, ReplacementSeries) else item), series + 1
                yield item
        self.log(
            f"{tf}: fetched {bars} bars for {series} of {len(tickers)} series in {time.monotonic() - started:.1f} s"
        )

    def _groups(self, tf: Timeframe, tickers: list[str]) -> dict[tuple[str, datetime | None, datetime], list[str]]:
        """Tickers by (provider, the day their window starts, end): one batched request serves many
        tickers without over-fetching for any of them."""
        newest = {} if self.refetch else self.store.newest_ts(tf, tickers)
        groups: dict[tuple[str, datetime | None, datetime], list[str]] = defaultdict(list)
        for ticker in tickers:
            start, end = fetch_window(self.refetch, tf, newest.get(ticker), self.now)
            day = vn_start_of(start.astimezone(VN_TZ).date()) if start else None
            groups[(self.market_data.provider_name(ticker, tf), day, end)].append(ticker)
        return groups

    def _fetch_group(self, source: Source, tickers: list[str], start: datetime | None) -> Iterator[FetchedPartition]:
        provider = self.market_data.provider(source.name)
        tf = source.tf
        try:
            for i in range(0, len(tickers), provider.batch_size):
                chunk = tickers[i : i + provider.batch_size]
                try:
                    result = provider.fetch(chunk, tf, start, source.end)
                except ProviderError as exc:
                    yield from (RejectedPartition.of(source.name, t, tf, exc) for t in chunk)
                    continue
                yield from (RejectedPartition.of(source.name, t, tf, e) for t, e in result.errors.items())
                yield from self._detect(source, provider, result.series, start)
        finally:
            provider.close()

    def _detect(
        self, source: Source, provider: CandleProvider, fetched: dict[str, BarSeries], start: datetime | None
    ) -> Iterator[FetchedPartition]:
        """The fetched series, each one whose overlap shows a restatement swapped for its whole history.

        The stored bars of the whole chunk come in one read.  A forced refetch writes what it was
        asked for, and a series with nothing stored (start None) has nothing to compare.
        """
        if self.refetch is not None or start is None or not fetched:
            yield from fetched.values()
            return
        stored = source.reader.overlap_bars(source.tf, list(fetched), int(start.timestamp() * 1000))
        restated: dict[str, tuple[BarSeries, Restatement]] = {}
        for ticker, series in fetched.items():
            found = compare_with_stored(stored[ticker], series) if ticker in stored else None
            if found is None:
                yield series
            else:
                restated[ticker] = (series, found)
        if restated:
            yield from self.replacements(source, provider, restated)

    def replacements(
        self, source: Source, provider: CandleProvider, restated: dict[str, tuple[BarSeries, Restatement]]
    ) -> Iterator[ReplacementSeries | RejectedPartition]:
        """Each restated series' whole history, in one batched request.

        When that fails, nothing of the series is written: the overlap alone would put its
        newest bars on the new basis and hide the restatement from the next tick's overlap,
        which will see it again.
        """
        for ticker, (_, found) in restated.items():
            self.log(
                f"{source.tf}: {source.name} restated {ticker} by {found.factor:.6f} (estimated ex-date "
                f"{found.estimated_ex_date}); refetching its whole history"
            )
        try:
            result = provider.fetch(list(restated), source.tf, None, source.end)
        except ProviderError as exc:
            yield from (RejectedPartition.of(source.name, t, source.tf, exc) for t in restated)
            return
        for ticker, (overlap, found) in restated.items():
            if (error := result.errors.get(ticker)) is not None:
                yield RejectedPartition.of(source.name, ticker, source.tf, error)
                continue
            full = result.series.get(ticker)
            if full is None or not len(full) or (full.first_ts or 0) > (overlap.first_ts or 0):
                # A short answer would delete stored history that the provider still has.
                yield RejectedPartition(
                    source.name, ticker, source.tf,
                    f"the full history fetched to replace a restated series does not reach back to the overlap "
                    f"(first bar {full.first_ts if full else None}, overlap from {overlap.first_ts})",
                    retryable=True,
                )  # fmt: skip
                continue
            yield ReplacementSeries(full, found)


@dataclass(frozen=True)
class Source:
    """What every request of one group shares: the provider's name, the timeframe, the window's
    end, and the reader of the stored overlap."""

    name: str
    tf: Timeframe
    end: datetime
    reader: StoreReader
