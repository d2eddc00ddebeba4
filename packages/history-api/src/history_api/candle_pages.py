"""Where a /candles page comes from: the worker's page cache, else one query, and which of the two answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from history_api.adjustment import basis_sql
from history_api.db import Database
from history_api.models import CandlesPageWire
from history_api.page_cache import CachedPage, PageCache, PageKey
from history_api.params import MAX_TS_MS

_PAGE_SQL = basis_sql("sql/candles_page.sql")
_encoder = msgspec.json.Encoder()

# hit: from memory; miss: read and offered to the cache; bypass: read, the cache is off or not listening.
CacheAnswer = Literal["hit", "miss", "bypass"]


@dataclass(frozen=True)
class CandlePages:
    """The page source the /candles route depends on: one collaborator, so a request resolves one dependency.

    Litestar resolves two or more dependencies of a handler in an anyio task group, which cost the
    route about a tenth of its CPU in the load benchmark (py-spy); the pool, the cache and the
    page's cache policy are therefore handed over together.
    """

    db: Database
    cache: PageCache
    past_page_max_age_s: int

    async def page(self, key: PageKey) -> tuple[CachedPage, CacheAnswer]:
        cached = await self.cache.lookup(key)
        if cached is not None:
            return cached, "hit"
        ticket = self.cache.ticket(key)
        page = await self._read(key)
        self.cache.store(key, ticket, page)
        return page, "bypass" if ticket is None else "miss"

    async def _read(self, key: PageKey) -> CachedPage:
        adjustment, symbol, tf, before_ts, limit = key
        before = MAX_TS_MS if before_ts is None else before_ts
        row = await self.db.fetchrow(_PAGE_SQL[adjustment, tf], symbol, tf, before, limit)
        assert row is not None  # an aggregate always returns its one row
        bars, newest, oldest, rows_json, more = row
        body = _encoder.encode(
            CandlesPageWire(
                ok=True,
                ticker=symbol,
                tf=tf,
                count=bars,
                rows=msgspec.Raw(b"[" + rows_json.encode() + b"]"),
                nextBeforeTs=oldest if more else None,
            )
        )
        return CachedPage(body, newest if bars else None)
