"""Live bars: `candles_latest` notifications from the worker's listener, fanned out to each series' streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from history_api.db import Database
from history_api.listener import Listener
from history_api.settings import Settings
from vietmarket_core.market import Timeframe
from vietmarket_core.sqlfiles import load_sql, timeframe_sql

log = logging.getLogger(__name__)

CHANNEL: Final = "candles_latest"
# Bars a slow stream may fall behind by before it is closed; its client reconnects and replays.
QUEUE_BARS: Final = 1000
REPLAY_MAX_BARS: Final = 5000
_BARS_SQL = load_sql("history_api", "sql/live_bars.sql")
_REPLAY_SQL = timeframe_sql("history_api", "sql/live_replay.sql")

SeriesKey = tuple[str, str]  # (ticker, tf)


@dataclass(frozen=True)
class LiveBar:
    """A bar as candles_latest holds it: ts in unix ms (the candle tables' meaning), prices and volume."""

    ticker: str
    tf: str
    ts: int
    o: float
    h: float
    l: float  # noqa: E741  # the bar's low, as every route names it
    c: float
    v: int | None

    @classmethod
    def of(cls, r: asyncpg.Record) -> LiveBar:
        v = r["v"]
        return cls(r["ticker"], r["tf"], r["ts"], r["o"], r["h"], r["l"], r["c"], None if v is None else round(v))


class TooManyStreams(Exception):
    """The key already holds its bound of open streams in this worker."""


@dataclass(eq=False)
class Subscription:
    """One stream's series and the bars waiting for it; `overflowed` once it fell QUEUE_BARS behind."""

    key_id: str
    series: frozenset[SeriesKey]
    bars: asyncio.Queue[LiveBar] = field(default_factory=lambda: asyncio.Queue(QUEUE_BARS))
    overflowed: bool = False


class LiveBars:
    """Streams subscribe by (ticker, tf); each NOTIFY naming a subscribed series sends its current bar.

    Notifications only wake the delivery loop: the series they name are gathered and read back from
    candles_latest in one query, so a burst of writes costs one read, in order, per wake-up.
    """

    def __init__(self, settings: Settings, db: Database, listener: Listener) -> None:
        self._settings = settings
        self._db = db
        self._subscribers: dict[SeriesKey, set[Subscription]] = {}
        self._per_key: Counter[str] = Counter()
        self._pending: set[SeriesKey] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        listener.subscribe(CHANNEL, self._on_notify)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._deliver_forever())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def subscribe(self, key_id: str, tickers: Sequence[str], tf: Timeframe) -> Subscription:
        if self._per_key[key_id] >= self._settings.stream_max_per_key:
            raise TooManyStreams
        self._per_key[key_id] += 1
        sub = Subscription(key_id, frozenset((t, tf) for t in tickers))
        for key in sub.series:
            self._subscribers.setdefault(key, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for key in sub.series:
            subs = self._subscribers.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[key]
        self._per_key[sub.key_id] -= 1
        if self._per_key[sub.key_id] <= 0:
            del self._per_key[sub.key_id]

    async def replay(self, tickers: Sequence[str], tf: Timeframe, since_ts: int) -> list[LiveBar]:
        records = await self._db.fetch(_REPLAY_SQL[tf], list(tickers), since_ts, REPLAY_MAX_BARS)
        return [LiveBar.of(r) for r in records]

    def _on_notify(self, payload: str) -> None:
        try:
            items = json.loads(payload)
            named = {(str(t), str(tf)) for t, tf, _ in items}
        except (ValueError, TypeError) as exc:
            log.warning("ignoring a %s notification that is not [[ticker, tf, ts], ...]: %s", CHANNEL, exc)
            return
        wanted = named & self._subscribers.keys()
        if wanted:
            self._pending |= wanted
            self._wake.set()

    async def _deliver_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            keys, self._pending = self._pending, set()
            try:
                records = await self._db.fetch(_BARS_SQL, [t for t, _ in keys], [tf for _, tf in keys])
            except Exception:  # a read that fails must not end delivery for every later bar
                log.exception("could not read the notified bars of %d series", len(keys))
                continue
            for record in records:
                self._dispatch(LiveBar.of(record))

    def _dispatch(self, bar: LiveBar) -> None:
        for sub in self._subscribers.get((bar.ticker, bar.tf), ()):
            try:
                sub.bars.put_nowait(bar)
            except asyncio.QueueFull:
                sub.overflowed = True
