"""The chart page, its two scripts, and the short-lived tokens that let it read data without an API key."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from history_api.auth import Caller, KeyRing, Unauthorized
from history_api.errors import BAD_REQUEST, PROTECTED, URI_TOO_LONG, ApiError
from history_api.models import ChartToken
from history_api.params import Tf, Ticker, ticker_of
from history_api.settings import Settings

_ASSETS = {
    "chart.js": ("chart", "chart.js"),
    "lightweight-charts.js": (
        "chart",
        "node_modules",
        "lightweight-charts",
        "dist",
        "lightweight-charts.standalone.production.js",
    ),
}


@cache
def _asset(name: str) -> bytes | None:
    path = files("history_api").joinpath(*_ASSETS[name])
    return path.read_bytes() if path.is_file() else None


@get(
    "/chart",
    summary="The chart page (open the chartUrl from POST /chart-token)",
    media_type=MediaType.HTML,
    tags=["chart"],
    security=[],
)
async def chart_page() -> Response[bytes]:
    return Response(
        files("history_api").joinpath("chart", "chart.html").read_bytes(),
        media_type=MediaType.HTML,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self' data:",
            "Referrer-Policy": "no-referrer",
        },
    )


@get("/chart/assets/{name:str}", include_in_schema=False)
async def chart_asset(name: FromPath[str]) -> Response[bytes]:
    if name not in _ASSETS:
        raise ApiError(404, "not_found")
    body = _asset(name)
    if body is None:
        raise ApiError(503, "chart_assets_missing", "lightweight-charts is not installed; run the set-up (make run)")
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


@post(
    "/chart-token",
    summary="A short-lived token for the chart page, bound to the calling key",
    responses={
        201: ResponseSpec(ChartToken, description="The token and a ready chart URL."),
        **BAD_REQUEST,
        **PROTECTED,
        **URI_TOO_LONG,
    },
    tags=["chart"],
)
async def chart_token(
    request: Request[Caller, str, Any],
    settings: NamedDependency[Settings],
    ticker: Ticker = "VNINDEX",
    tf: Tf = "1d",
) -> ChartToken:
    keyring: KeyRing = request.app.state.keyring
    # Tokens come from keys only: a token that could mint tokens would never expire.
    if request.user.via != "key":
        raise Unauthorized
    symbol = ticker_of(ticker)
    token, expires_ms = keyring.issue_token(request.user.key_id, settings.chart_token_ttl_s)
    url = f"/chart?{urlencode({'ticker': symbol, 'tf': tf})}#token={token}"
    return ChartToken(ok=True, token=token, expiresAt=expires_ms, chartUrl=url)
