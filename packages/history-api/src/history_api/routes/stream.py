"""GET /stream/latest: Server-Sent Events of the subscribed series' newest bars, with heartbeats and replay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Final

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from history_api.auth import Caller
from history_api.errors import DATA_RESPONSES, ApiError, invalid
from history_api.live import LiveBar, LiveBars, Subscription, TooManyStreams
from history_api.params import Tf, ticker_of
from history_api.settings import Settings

MAX_TICKERS: Final = 50
RETRY_MS: Final = 2000
Tickers = Annotated[
    str,
    QueryParameter(
        description=f"Comma-separated tickers, 1..{MAX_TICKERS}, e.g. VCB,FPT.",
        min_length=1,
        max_length=MAX_TICKERS * 13,
        pattern=r"^[A-Za-z0-9]{1,12}(,[A-Za-z0-9]{1,12})*$",
    ),
]
LastEventId = Annotated[
    str,
    HeaderParameter(
        name="Last-Event-ID",
        description="The id of the last event received (EventSource sends it on reconnect): the bars at or "
        "after that ts are sent first. Empty, as the SSE spec says, means none.",
        # 13 digits at most: every such number is a valid unix-ms ts (MAX_TS_MS).
        pattern=r"^[0-9]{0,13}$",
        required=False,
    ),
]


def _tickers(raw: str) -> list[str]:
    tickers = list(dict.fromkeys(ticker_of(t) for t in raw.split(",")))
    if len(tickers) > MAX_TICKERS:
        raise invalid("tickers", f"{len(tickers)} tickers; at most {MAX_TICKERS} per stream")
    return tickers


def _event(bar: LiveBar, event_id: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(asdict(bar), separators=(",", ":")), event="bar", id=str(event_id))


async def _events(
    live: LiveBars, sub: Subscription, missed: list[LiveBar], since: int, heartbeat_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    # The id is the newest ts sent so far, so a reconnect asks for everything from the current bar on.
    last = since
    try:
        yield ServerSentEventMessage(comment="connected", retry=RETRY_MS)
        for bar in missed:
            last = max(last, bar.ts)
            yield _event(bar, last)
        while not sub.overflowed:
            try:
                bar = await asyncio.wait_for(sub.bars.get(), timeout=heartbeat_s)
            except TimeoutError:
                yield ServerSentEventMessage(comment="heartbeat")
                continue
            last = max(last, bar.ts)
            yield _event(bar, last)
    finally:
        live.unsubscribe(sub)


@get(
    "/stream/latest",
    summary="Live bars as Server-Sent Events",
    description="An event stream (text/event-stream) of `bar` events, one whenever a subscribed series' newest "
    "bar is written or revised (from candles_latest's NOTIFY), data {ticker, tf, ts, o, h, l, c, v} as /latest. "
    "id is the newest ts sent so far: a client that reconnects with Last-Event-ID first gets every bar of its "
    "tickers at or after it (at most 5000) from the candle tables. A comment line is sent as a heartbeat every "
    "HISTORY_API_STREAM_HEARTBEAT_S seconds. Each key may hold HISTORY_API_STREAM_MAX_PER_KEY open streams per "
    "worker; one more answers 429 too_many_streams. Prices are the candle tables' (the adjusted basis).",
    responses={
        200: ResponseSpec(None, description="text/event-stream of bar events and heartbeat comments."),
        **DATA_RESPONSES,
    },
    tags=["stream"],
)
async def stream_latest(  # noqa: PLR0913  # the stream's query, its header and its collaborators
    request: Request[Caller, str, Any],
    live: NamedDependency[LiveBars],
    settings: NamedDependency[Settings],
    tickers: Tickers,
    tf: Tf,
    last_event_id: LastEventId = "",
) -> ServerSentEvent:
    wanted = _tickers(tickers)
    since = int(last_event_id) if last_event_id else None
    try:
        sub = live.subscribe(request.user.key_id, wanted, tf)
    except TooManyStreams:
        raise ApiError(
            429, "too_many_streams", f"this key already holds {settings.stream_max_per_key} open streams"
        ) from None
    try:
        missed = await live.replay(wanted, tf, since) if since is not None else []
    except BaseException:
        live.unsubscribe(sub)
        raise
    return ServerSentEvent(
        _events(live, sub, missed, since or 0, settings.stream_heartbeat_s),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
