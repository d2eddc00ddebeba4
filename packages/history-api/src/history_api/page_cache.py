"""Repeated /candles pages from memory: an LRU bounded in bytes, invalidated exactly by the `candles_changed` channel.

Exactness rests on three rules:

* A page is served only while this worker's listener is connected and LISTENing; when it is lost
  every page is dropped and the cache is bypassed until LISTEN is back (and dropped once more).
* A page read from the database is stored only if its series' generation, taken before the
  query, is unchanged after it: a change that committed during the query bumped it.  A change
  whose notification arrives after the store drops the stored page then.
* A hit is served only after a round trip on the listener's connection that began after the
  request arrived (`Listener.round_trip`): by then every change committed before the request
  has been applied to the cache.  Concurrent hits share one round trip.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from cachetools import LRUCache

from history_api.adjustment import Adjustment
from history_api.listener import Listener
from history_api.settings import Settings
from vietmarket_core.market import Timeframe

log = logging.getLogger(__name__)

CHANNEL: Final = "candles_changed"

# (adjustment, ticker, tf, beforeTs or None, limit as capped): everything that shapes a page's body.
PageKey = tuple[Adjustment, str, Timeframe, int | None, int]
SeriesKey = tuple[Adjustment, str, Timeframe]
# (listener epoch, series generation) when a query began; None when the cache is bypassed.
Ticket = tuple[int, int]

# Which series' pages a change to each relation reaches (the relation names are the triggers'
# TG_ARGV in migrations/0007): adjusted pages read the candle table of their timeframe; raw 1d
# pages read daily_prices; raw intraday pages read the candle table and corporate_actions
# (adjustment.py).  A test holds this against the statements basis_sql builds.
AFFECTS: Final[dict[str, tuple[tuple[Adjustment, Timeframe], ...]]] = {
    "1d": (("adjusted", "1d"),),
    "1h": (("adjusted", "1h"), ("raw", "1h")),
    "15m": (("adjusted", "15m"), ("raw", "15m")),
    "daily_prices": (("raw", "1d"),),
    "corporate_actions": (("raw", "1h"), ("raw", "15m")),
}


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A page's body as sent, and its newest bar's ts (None for an empty page): the max-age is decided per request."""

    body: bytes
    newest: int | None


class _Pages(LRUCache[PageKey, CachedPage]):
    """The LRU, telling its owner which pages it evicts so the per-series index stays exact."""

    def __init__(self, maxsize: int, forget: Any) -> None:
        super().__init__(maxsize, getsizeof=lambda page: len(page.body))
        self._forget = forget

    def popitem(self) -> tuple[PageKey, CachedPage]:
        key, page = super().popitem()
        self._forget(key)
        return key, page


class PageCache:
    """One per worker: the pages, their index by series, kept exact by the worker's listener."""

    def __init__(self, settings: Settings, listener: Listener) -> None:
        self.max_bytes = settings.page_cache_bytes
        self._listener = listener
        self._pages = _Pages(max(self.max_bytes, 1), self._forget)
        self._by_series: dict[SeriesKey, set[PageKey]] = defaultdict(set)
        self._generation: dict[SeriesKey, int] = defaultdict(int)
        # Bumped whenever everything is dropped: no query that began before may store.
        self._epoch = 0
        # True only while the listener is connected and LISTENs on CHANNEL.
        self._serving = False
        if self.enabled:
            listener.subscribe(CHANNEL, self._on_notify, on_up=self._on_up, on_down=self._on_down)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def bytes_held(self) -> int:
        return int(self._pages.currsize)

    def __len__(self) -> int:
        return len(self._pages)

    async def lookup(self, key: PageKey) -> CachedPage | None:
        """The cached page, fresh as of this call, or None (not cached, or the cache is bypassed)."""
        if not self._serving or key not in self._pages:
            return None
        if not await self._listener.round_trip():
            return None
        # The round trip may have delivered the very change that drops this page.
        return self._pages.get(key)

    def ticket(self, key: PageKey) -> Ticket | None:
        """Taken before the query that reads `key`'s page; None when the page must not be stored."""
        if not self._serving:
            return None
        return self._epoch, self._generation[key[:3]]

    def store(self, key: PageKey, ticket: Ticket | None, page: CachedPage) -> bool:
        """Keep the page if nothing that can change it happened since `ticket` was taken."""
        series: SeriesKey = key[:3]
        if ticket is None or not self._serving or ticket != (self._epoch, self._generation[series]):
            return False
        if len(page.body) > self.max_bytes:
            return False
        self._pages[key] = page
        self._by_series[series].add(key)
        return True

    def _forget(self, key: PageKey) -> None:
        series: SeriesKey = key[:3]
        keys = self._by_series.get(series)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_series[series]

    def clear(self) -> None:
        self._epoch += 1
        self._pages.clear()
        self._by_series.clear()

    def invalidate(self, series: SeriesKey, min_ts: int | None) -> None:
        """Drop the series' pages a change at ts >= min_ts can reach (None: all of them)."""
        self._generation[series] += 1
        for key in list(self._by_series.get(series, ())):
            before = key[3]
            # A page holds bars with ts < before (and says whether older ones exist): only a change
            # below `before` reaches it.  The newest page (before None) is reached by any change.
            if min_ts is None or before is None or min_ts < before:
                self._pages.pop(key, None)
                self._forget(key)

    def _on_up(self) -> None:
        # Pages were dropped when the listener was lost, and no read that began since can store
        # (its ticket was None); clearing once more costs nothing.
        self.clear()
        self._serving = True

    def _on_down(self) -> None:
        # Changes from now on would go unseen: nothing cached can be trusted until LISTEN is back.
        self._serving = False
        self.clear()
        log.warning("the %s listener is lost; bypassing the page cache until it listens again", CHANNEL)

    def _on_notify(self, payload: str) -> None:
        try:
            items = [(t, str(rel), lo) for t, rel, lo, _hi in json.loads(payload)]
        except (ValueError, TypeError) as exc:
            log.warning("%s notification is not [[ticker, relation, min_ts, max_ts], ...] (%s)", CHANNEL, exc)
            self.clear()
            return
        for ticker, relation, min_ts in items:
            affected = AFFECTS.get(relation)
            if affected is None or ticker is None:
                # A relation this code does not know, or a TRUNCATE: nothing cached can be trusted.
                self.clear()
                return
            for adjustment, tf in affected:
                self.invalidate((adjustment, str(ticker), tf), None if min_ts is None else int(min_ts))
