"""The client's exceptions: one per way a call fails, each naming the endpoint and what the API said."""

from __future__ import annotations

from collections.abc import Mapping


class VietMarketError(Exception):
    """Anything this client raises about a call (bad arguments are ValueError/TypeError instead)."""


class ApiError(VietMarketError):
    """The API answered with an error envelope `{"ok": false, "error": code, "detail": message}`.

    `status` is the HTTP status, `code` the envelope's `error` (e.g. `invalid_tf`), `message` its
    `detail`, `endpoint` the path called and `params` the query sent; `attempts` counts the requests
    made (more than one when the error was retried until the client gave up).
    """

    def __init__(  # noqa: PLR0913  # what the envelope and the call say, all of it useful to the caller
        self,
        status: int,
        code: str,
        message: str | None,
        endpoint: str,
        params: Mapping[str, str],
        attempts: int = 1,
    ) -> None:
        self.status, self.code, self.message = status, code, message
        self.endpoint, self.params, self.attempts = endpoint, dict(params), attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"GET {self.endpoint}: {self.status} {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts)"
        return text


class BadRequest(ApiError):
    """400: a parameter is invalid; `parameter` is its name on the wire (from `invalid_<parameter>`)."""

    @property
    def parameter(self) -> str | None:
        return self.code.removeprefix("invalid_") if self.code.startswith("invalid_") else None

    def _describe(self) -> str:
        text = super()._describe()
        name = self.parameter
        if name is not None and name in self.params:
            text += f" [parameter {name}={self.params[name]!r}]"
        elif name is not None:
            text += f" [parameter {name}]"
        return text


class AuthError(ApiError):
    """401: the X-API-Key was missing or not accepted."""

    def _describe(self) -> str:
        return super()._describe() + " (check the key passed to Client)"


class RateLimited(ApiError):
    """429 after every allowed retry: the key's rate limit stayed spent; `retry_after` is the last Retry-After (s)."""

    def __init__(  # noqa: PLR0913  # ApiError's fields plus the server's last Retry-After
        self,
        status: int,
        code: str,
        message: str | None,
        endpoint: str,
        params: Mapping[str, str],
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, code, message, endpoint, params, attempts)


class ServiceUnavailable(ApiError):
    """503 after every allowed retry (e.g. `db_unreachable`: the API is up but cannot reach its database)."""


class TransportError(VietMarketError):
    """No HTTP answer after every allowed retry: connection refused, reset or timed out."""

    def __init__(self, endpoint: str, attempts: int, cause: Exception) -> None:
        self.endpoint, self.attempts = endpoint, attempts
        super().__init__(f"GET {endpoint}: no answer after {attempts} attempt(s): {type(cause).__name__}: {cause}")
