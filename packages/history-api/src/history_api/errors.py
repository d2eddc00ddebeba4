"""Every failure as the old contract's envelope, `{"ok":false,"error":...}`: never a driver message or a stack."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import ParameterKwarg
from litestar.types import ExceptionHandlersMap

from history_api.auth import Unauthorized
from history_api.db import DatabaseUnavailable, QueryTimeout
from history_api.models import ErrorBody

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def invalid(param: str, detail: str) -> ApiError:
    return ApiError(400, f"invalid_{param}", detail)


def _body(status: int, error: str, detail: str | None = None, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        ErrorBody(ok=False, error=error, detail=detail),
        status_code=status,
        media_type=MediaType.JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _body(exc.status, exc.error, exc.detail, exc.headers)


_MISSING = re.compile(r"Missing required \w+ parameter '([^']+)'")


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """The name a client sends for the handler parameter `key`: its QueryParameter(name=...) alias, if any.

    Litestar reports a parameter that fails validation by its Python name; the route's own
    declaration is the one place its name on the wire is written down.
    """
    handler = request.scope.get("route_handler")
    parameter = handler.parsed_fn_signature.parameters.get(key) if handler is not None else None
    kwarg = parameter.kwarg_definition if parameter is not None else None
    return kwarg.name if isinstance(kwarg, ParameterKwarg) and kwarg.name else key


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    # Litestar names the parameter that failed; the contract wants invalid_<that name>.
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    if first.get("key"):
        key, detail = _wire_name(request, str(first["key"])), str(first.get("message") or exc.detail)
    elif missing := _MISSING.search(exc.detail):
        # This message already names the parameter as it is on the wire.
        key, detail = missing.group(1), "required"
    else:
        key, detail = "request", exc.detail
    return _body(400, f"invalid_{key}", detail)


def _unauthorized(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return _body(
        401, "unauthorized", "send a valid X-API-Key header", {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
    )


def _db_unreachable(request: Request[Any, Any, Any], exc: DatabaseUnavailable) -> Response[Any]:
    log.warning("database unreachable on %s: %s", request.url.path, exc)
    return _body(503, "db_unreachable", "the database cannot be reached; retry shortly", {"Retry-After": "5"})


def _query_timeout(request: Request[Any, Any, Any], _: QueryTimeout) -> Response[Any]:
    log.warning("query timeout on %s", request.url.path)
    return _body(504, "query_timeout", "the query ran past the server's statement timeout")


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotFoundException):
        return _body(404, "not_found")
    if isinstance(exc, MethodNotAllowedException):
        return _body(405, "method_not_allowed", None, exc.headers)
    return _body(exc.status_code, "http_" + str(exc.status_code), exc.detail, exc.headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return _body(500, "internal_error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiError: _api_error,
    ValidationException: _validation,
    Unauthorized: _unauthorized,
    DatabaseUnavailable: _db_unreachable,
    QueryTimeout: _query_timeout,
    HTTPException: _http,
    Exception: _internal,
}


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


BAD_REQUEST = {400: _spec("A parameter is invalid: error is invalid_<parameter>, detail says why.")}
PROTECTED = {
    401: _spec("No valid X-API-Key header (or chart token): error is unauthorized."),
    429: _spec("The key's rate limit is spent: error is rate_limited; see Retry-After and RateLimit-*."),
}
DB_ERRORS = {
    503: _spec("The database cannot be reached: error is db_unreachable. The service reconnects by itself."),
    504: _spec("The query hit the statement timeout: error is query_timeout."),
}
# QueryStringLimit answers it before any route runs, so every route with query parameters can.
URI_TOO_LONG = {414: _spec("The query string is over the server's limit: error is uri_too_long.")}
DATA_RESPONSES: dict[int, ResponseSpec] = {**BAD_REQUEST, **PROTECTED, **DB_ERRORS, **URI_TOO_LONG}
