"""The app factory: routes, the lifespan that owns the pool, auth, rate limits, errors, compression and OpenAPI."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from history_api.auth import PUBLIC_PATHS, ApiKeyMiddleware, KeyRing, RateLimitMiddleware, key_id
from history_api.bulk_limits import BulkLimits
from history_api.candle_pages import CandlePages
from history_api.db import Database
from history_api.errors import EXCEPTION_HANDLERS
from history_api.listener import Listener
from history_api.live import LiveBars
from history_api.page_cache import PageCache
from history_api.request_limits import QueryStringLimit
from history_api.routes.bulk import candles_bulk, export
from history_api.routes.candles import candles, latest
from history_api.routes.chart import chart_asset, chart_page, chart_token
from history_api.routes.corporate_actions import corporate_actions_by_ticker, corporate_actions_latest
from history_api.routes.health import healthz
from history_api.routes.movers import top_movers
from history_api.routes.news import news_by_ticker, news_latest
from history_api.routes.stream import stream_latest
from history_api.routes.symbols import symbols
from history_api.routes.udf import (
    udf_config,
    udf_history,
    udf_marks,
    udf_search,
    udf_symbols,
    udf_time,
    udf_timescale_marks,
)
from history_api.settings import Settings
from history_api.timing import ServerTiming

API_VERSION = "1.0.0"


def create_app(settings: Settings) -> Litestar:
    db = Database(settings)
    # One LISTEN connection per worker, for the live streams and the page cache alike.
    listener = Listener(settings)
    live = LiveBars(settings, db, listener)
    page_cache = PageCache(settings, listener)

    @asynccontextmanager
    async def pool_lifespan(_: Litestar) -> AsyncIterator[None]:
        await db.open()
        await live.start()
        await listener.start()
        # Everything alive now (modules, the app, its routes) lives as long as the worker: moved out
        # of the collector's generations, a full collection no longer walks it.  Full collections
        # had paused requests in the benchmark's slowest 1 % (the gc stage of Server-Timing).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await listener.stop()
            await live.stop()
            await db.close()

    def provide_db() -> Database:
        return db

    def provide_live() -> LiveBars:
        return live

    pages = CandlePages(db, page_cache, settings.past_page_max_age_s)

    def provide_pages() -> CandlePages:
        return pages

    def provide_settings() -> Settings:
        return settings

    bulk_limits = BulkLimits(settings)

    def provide_bulk_limits() -> BulkLimits:
        return bulk_limits

    security_schemes: dict[str, Any] = {
        "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
        "chartToken": SecurityScheme(type="http", scheme="bearer", description="From POST /chart-token."),
    }
    return Litestar(
        route_handlers=[
            healthz,
            chart_page,
            chart_asset,
            Router(
                "/",
                route_handlers=[
                    *(candles, latest, top_movers, symbols, news_latest, news_by_ticker, chart_token),
                    *(corporate_actions_latest, corporate_actions_by_ticker),
                    *(candles_bulk, export),
                    *(udf_config, udf_symbols, udf_search, udf_history, udf_time, udf_timescale_marks, udf_marks),
                    stream_latest,
                ],
                security=[{"apiKey": []}, {"chartToken": []}],
            ),
        ],
        lifespan=[pool_lifespan],
        state=State({"keyring": KeyRing(settings.api_keys, settings.token_secret)}),
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "bulk_limits": Provide(provide_bulk_limits, sync_to_thread=False),
            "live": Provide(provide_live, sync_to_thread=False),
            "pages": Provide(provide_pages, sync_to_thread=False),
        },
        middleware=[
            *([DefineMiddleware(ServerTiming)] if settings.server_timing else []),
            DefineMiddleware(QueryStringLimit, max_bytes=settings.max_query_string_bytes),
            DefineMiddleware(ApiKeyMiddleware, exclude=list(PUBLIC_PATHS)),
            DefineMiddleware(
                RateLimitMiddleware,
                item=settings.rate_limit_item(),
                per_key={key_id(k): item for k, item in settings.key_rate_limit_items().items()},
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        # An event stream must reach the client event by event, never held in a compressor's buffer.
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, gzip_compress_level=5, exclude=["/stream/"]
        ),
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "If-None-Match", "Last-Event-ID"],
            expose_headers=["ETag", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"],
            max_age=600,
        )
        if settings.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="VietMarket History API",
            version=API_VERSION,
            description="Deep OHLCV history of the Vietnamese market. ts is unix ms: 1d bars at 00:00 UTC of "
            "the trading date, intraday bars at the UTC instant of the bar's open. Prices in thousands of VND "
            "(indices in points).",
            path="/schema",
            components=Components(security_schemes=security_schemes),
        ),
        request_max_body_size=16 * 1024,
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """The ASGI factory uvicorn workers call: `uvicorn --factory history_api.app:create_app_from_env`."""
    return create_app(Settings.from_env())
