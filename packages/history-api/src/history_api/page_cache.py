"""Repeated /candles pages from memory: an LRU bounded in bytes, invalidated exactly by the `candles_changed` channel.

Exactness rests on three rules:

* A page is served only while this worker's listener is connected and LISTENing; when it is lost
  every page is dropped and the cache is bypassed until LISTEN is back (and dropped once more).
* A page read from the database is stored only if its series' generation, taken before the
  query, is unchanged after it: a change that committed during the query bumped it.  A change
  whose notification arrives after the store drops the stored page then.
* A hit is served only after a round trip on the listener's connection that began after the
  request arrived.  A writer's COMMIT signals the listening backends before it returns, and a
  backend sends the notifications it was signalled about before its next ReadyForQuery, so
  every change committed before the request has been applied to the cache by the time the
  round trip returns.  Concurrent hits share one round trip (a group commit of sorts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from cachetools import LRUCache

from history_api.adjustment import Adjustment
from history_api.settings import Settings
from vietmarket_core.market import Timeframe

log = logging.getLogger(__name__)

CHANNEL: Final = "candles_changed"
RELISTEN_DELAY_S: Final = 1.0

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
    """One per worker: the pages, their index by series, and the listener that invalidates them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.max_bytes = settings.page_cache_bytes
        self._pages = _Pages(max(self.max_bytes, 1), self._forget)
        self._by_series: dict[SeriesKey, set[PageKey]] = defaultdict(set)
        self._generation: dict[SeriesKey, int] = defaultdict(int)
        # Bumped whenever the listener is lost or re-established: no query that began before may store.
        self._epoch = 0
        self._conn: asyncpg.Connection[Any] | None = None
        # Set when the listener's connection is lost, by the driver or by a failed round trip.
        self._closed = asyncio.Event()
        self._sync_lock = asyncio.Lock()
        self._rounds_started = 0
        self._rounds_done = 0
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def bytes_held(self) -> int:
        return int(self._pages.currsize)

    def __len__(self) -> int:
        return len(self._pages)

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def lookup(self, key: PageKey) -> CachedPage | None:
        """The cached page, fresh as of this call, or None (not cached, or the cache is bypassed)."""
        if self._conn is None or key not in self._pages:
            return None
        if not await self._sync():
            return None
        # The round trip may have delivered the very change that drops this page.
        return self._pages.get(key)

    def ticket(self, key: PageKey) -> Ticket | None:
        """Taken before the query that reads `key`'s page; None when the page must not be stored."""
        if self._conn is None:
            return None
        return self._epoch, self._generation[key[:3]]

    def store(self, key: PageKey, ticket: Ticket | None, page: CachedPage) -> bool:
        """Keep the page if nothing that can change it happened since `ticket` was taken."""
        series: SeriesKey = key[:3]
        if ticket is None or self._conn is None or ticket != (self._epoch, self._generation[series]):
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

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            items = [(t, str(rel), lo) for t, rel, lo, _hi in json.loads(str(payload))]
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

    async def _sync(self) -> bool:
        """A round trip on the listener's connection that began after this call; False if it failed."""
        wanted = self._rounds_started + 1
        async with self._sync_lock:
            if self._rounds_done >= wanted:
                return True  # a round that began after we arrived has completed while we waited
            conn = self._conn
            if conn is None:
                return False
            self._rounds_started += 1
            round_no = self._rounds_started
            try:
                await conn.fetchval("SELECT 1", timeout=self._settings.connect_timeout_s)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("the %s listener did not answer (%s); dropping the page cache", CHANNEL, type(exc).__name__)
                self._lose(conn)
                return False
            self._rounds_done = round_no
            return self._conn is conn

    def _lose(self, conn: asyncpg.Connection[Any]) -> None:
        if self._conn is conn:
            self._conn = None
            self.listening.clear()
            self.clear()
            self._closed.set()
        conn.terminate()

    async def _listen_forever(self) -> None:
        while True:
            conn: asyncpg.Connection[Any] | None = None
            try:
                conn = await asyncpg.connect(
                    self._settings.pg_url,
                    timeout=self._settings.connect_timeout_s,
                    server_settings={"application_name": "history_api_page_cache"},
                )
                await self._listen_on(conn)
                log.warning("the %s listener lost its connection; bypassing the page cache until it is back", CHANNEL)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot LISTEN %s (%s); bypassing the page cache, retrying", CHANNEL, type(exc).__name__)
            finally:
                self._conn = None
                self.listening.clear()
                self.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(RELISTEN_DELAY_S)

    async def _listen_on(self, conn: asyncpg.Connection[Any]) -> None:
        """Serves pages until the connection is lost."""
        closed = self._closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        # Pages stored before the listener was lost are gone already, and no read that began since
        # can store (its ticket was None); clearing once more costs nothing.
        self.clear()
        self._conn = conn
        self.listening.set()
        await closed.wait()
