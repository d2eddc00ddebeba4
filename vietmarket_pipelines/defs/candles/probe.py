"""The anchor probe: compares an old stretch of each stored series with the provider and replaces restated series.

The overlap of an incremental fetch (fetch.py) sees a restatement only where the stored bars it
re-reads are still on the old basis.  Bars written without a comparison (a forced `full_refetch`
of the range an outage missed, a gap repair) or a provider that restates later than the overlap
leave the newest bars on the new basis and the older ones on the old: a mixed series the overlap
can no longer see.  The probe looks where the old basis lasts longest.

Why the oldest stored bars: a series is written oldest first (its backfill, then ticks), and an
action going ex rescales every bar before its ex-date.  So any stale bar implies a stale oldest
bar: whatever action left a later-written bar behind went ex after the oldest bar was written,
and rescaled it too.  One anchor per series decides whether it is on the provider's current
basis; a matching anchor means nothing to write, which is also why the repair job is resumable
and idempotent.  An anchor is `ANCHOR_BARS` bars, so that `compare_with_stored` has the two
supporting bars it asks of a restatement; on a 25-year series the oldest prices are small and
their rounding to the tick relatively large, and a bar too cheap to tell the ratio from 1 counts
as no evidence rather than a false alarm (see restatement.py).

Batching: the provider takes one window per request (VCI has no `from`: `countBack` back from
`to`), so the tickers of one request must share it.  The probe sorts a provider's series by where
their anchor starts and cuts them into chunks of the provider's batch size; a chunk's anchor
starts at the youngest of its series' first bars, where every series of the chunk has stored
bars.  That is one request per batch: the floor the batching allows (`probe_floor`).  A restated
series is refetched whole with the others of its chunk in one more request
(`CandleFetcher.replacements`), the same replacement the overlap uses.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vietmarket_core.market import INDEX_TICKERS, Timeframe
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.defs.candles.fetch import CandleFetcher, FetchedPartition, RejectedPartition, Source
from vietmarket_pipelines.providers.base import CandleProvider
from vietmarket_pipelines.providers.http import ProviderError
from vietmarket_pipelines.restatement import Restatement, compare_with_stored
from vietmarket_pipelines.timescale.candle_store import StoreReader

# Bars compared per series: a 1d anchor is two trading weeks, an intraday one two sessions' worth.
ANCHOR_BARS: dict[Timeframe, int] = {"1d": 10, "1h": 10, "15m": 36}
# How far past the anchor's start its bars are looked for (Tết closes HOSE for up to 9 days).
ANCHOR_SPAN: dict[Timeframe, timedelta] = {
    "1d": timedelta(days=45),
    "1h": timedelta(days=14),
    "15m": timedelta(days=10),
}
# How far back a provider still serves bars (VCI: minute bars ~120 trading days, hourly ~1,300,
# providers/vci.py FULL_HISTORY_DAYS); an older anchor would compare nothing, so the anchor of an
# intraday series is its oldest bar within reach, with a margin.
PROVIDER_REACH: dict[Timeframe, timedelta | None] = {
    "1d": None,
    "1h": timedelta(days=1_500),
    "15m": timedelta(days=150),
}


@dataclass(frozen=True)
class ProbeProgress:
    """What one step of a probe did: series compared, restated, not comparable, requests sent."""

    probed: int = 0
    restated: tuple[str, ...] = ()
    not_compared: tuple[str, ...] = ()
    requests: int = 0
    refetch_requests: int = 0

    def __add__(self, other: ProbeProgress) -> ProbeProgress:
        return ProbeProgress(
            self.probed + other.probed,
            self.restated + other.restated,
            self.not_compared + other.not_compared,
            self.requests + other.requests,
            self.refetch_requests + other.refetch_requests,
        )

    def summary(self, tf: Timeframe, seconds: float) -> str:
        """The run log's line: how many series were probed and fixed, and which."""
        restated = f": {', '.join(self.restated)}" if self.restated else ""
        missing = f"; {len(self.not_compared)} without anchor bars ({', '.join(self.not_compared[:10])})"
        return (
            f"{tf} anchor probe: {self.probed} series probed with {self.requests} anchor requests, "
            f"{len(self.restated)} restated and refetched whole in {self.refetch_requests} more{restated}"
            f"{missing if self.not_compared else ''} in {seconds:.1f} s"
        )


@dataclass(frozen=True)
class ChunkProbe:
    """One anchor request's outcome: the rejected partitions, the restated series, the progress."""

    rejected: list[RejectedPartition]
    restated: dict[str, tuple[BarSeries, Restatement]]
    progress: ProbeProgress


def probe_floor(series: int, batch_size: int) -> int:
    """The fewest anchor requests that can cover `series` series of one provider and timeframe."""
    return math.ceil(series / batch_size)


@dataclass(frozen=True)
class AnchorProbe:
    """Probes stored series a provider batch at a time; yields the replacements and rejections."""

    fetcher: CandleFetcher
    log: Callable[[str], None]

    def fetch(self, by_tf: dict[Timeframe, list[str]]) -> Iterator[FetchedPartition]:
        # The anchor reads of every chunk share one connection, as the overlap reads do.
        with self.fetcher.store.reader() as reader:
            for tf, tickers in by_tf.items():
                yield from self.probe_timeframe(tf, tickers, reader)

    def probe_timeframe(self, tf: Timeframe, tickers: list[str], reader: StoreReader) -> Iterator[FetchedPartition]:
        started, total = time.monotonic(), ProbeProgress()
        for provider_name, anchors in self._anchors(tf, tickers).items():
            for item in self._probe_provider(Source(provider_name, tf, self.fetcher.now, reader), anchors):
                if isinstance(item, ProbeProgress):
                    total += item
                else:
                    yield item
        self.log(total.summary(tf, time.monotonic() - started))

    def _anchors(self, tf: Timeframe, tickers: list[str]) -> dict[str, list[tuple[int, str]]]:
        """(anchor start ms, ticker) of every stored stock series, by provider, oldest anchor first.

        Indices are never adjusted (restatement.py), and a series with nothing stored has nothing
        to probe: its first fetch is its full history on the current basis.
        """
        wanted = set(tickers) - set(INDEX_TICKERS)
        reach = PROVIDER_REACH[tf]
        floor_ms = int((self.fetcher.now - reach).timestamp() * 1000) if reach else 0
        by_provider: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for ticker, first, _last, _n in self.fetcher.store.series_extents(tf):
            if ticker in wanted:
                by_provider[self.fetcher.market_data.provider_name(ticker, tf)].append((max(first, floor_ms), ticker))
        return {name: sorted(anchors) for name, anchors in by_provider.items()}

    def _probe_provider(
        self, source: Source, anchors: list[tuple[int, str]]
    ) -> Iterator[FetchedPartition | ProbeProgress]:
        """Each chunk's anchors in one request; the restated series wait for a full batch, so their
        whole histories take as few requests as the batching allows, whichever chunk found them."""
        provider = self.fetcher.market_data.provider(source.name)
        batch = provider.batch_size
        pending: dict[str, tuple[BarSeries, Restatement]] = {}
        try:
            for i in range(0, len(anchors), batch):
                chunk = anchors[i : i + batch]
                # Sorted: the chunk's last anchor is its youngest, and every series has bars from there.
                found = self._probe_chunk(source, provider, chunk[-1][0], [t for _, t in chunk])
                yield found.progress
                yield from found.rejected
                pending |= found.restated
                last = i + batch >= len(anchors)
                while len(pending) >= batch or (last and pending):
                    taken = list(pending)[:batch]
                    yield ProbeProgress(refetch_requests=1)
                    yield from self.fetcher.replacements(source, provider, {t: pending.pop(t) for t in taken})
        finally:
            provider.close()

    def _probe_chunk(self, source: Source, provider: CandleProvider, since_ms: int, tickers: list[str]) -> ChunkProbe:
        tf = source.tf
        until_ms = since_ms + int(ANCHOR_SPAN[tf].total_seconds() * 1000)
        stored = source.reader.anchor_bars(tf, tickers, since_ms, until_ms, ANCHOR_BARS[tf])
        missing = tuple(t for t in tickers if t not in stored)
        if not stored:
            return ChunkProbe([], {}, ProbeProgress(not_compared=missing))
        end_ms = max(int(bars.ts[-1]) for bars in stored.values())
        start, end = (datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in (since_ms, end_ms))
        try:
            result = provider.fetch(list(stored), tf, start, end)
        except ProviderError as exc:
            # A failed partition's check fails it, and the next probe (or a re-run) tries it again.
            rejected = [RejectedPartition.of(source.name, t, tf, exc) for t in stored]
            return ChunkProbe(rejected, {}, ProbeProgress(not_compared=missing, requests=1))
        rejected = [RejectedPartition.of(source.name, t, tf, e) for t, e in result.errors.items()]
        compared = {t: f for t, f in result.series.items() if len(f)}
        restated = {
            t: (fetched, found)
            for t, fetched in compared.items()
            if (found := compare_with_stored(stored[t], fetched, detected_by="anchor")) is not None
        }
        empty = tuple(t for t in result.series if t not in compared)
        progress = ProbeProgress(len(compared), tuple(restated), missing + empty, requests=1)
        return ChunkProbe(rejected, restated, progress)
