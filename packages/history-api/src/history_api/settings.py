"""The History API's settings, read once from the environment; keys and URLs never reach a repr or a log."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from limits import RateLimitItem, parse

MIN_KEY_LENGTH = 16
# The levels both logging and uvicorn know by name.
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(ValueError):
    """The environment does not describe a service that can run safely."""


@dataclass(frozen=True)
class Settings:
    """Everything the service needs; build it with `Settings.from_env()` or directly in tests.

    These field defaults are the only defaults; `ENVIRONMENT` says which variable sets which field.
    """

    # Both are required: empty ones stop the service with a SettingsError.
    pg_url: str = field(default="", repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout_s: float = 3.0
    statement_timeout_ms: int = 5_000
    # Per key and per worker process: each worker counts on its own (see deploy/history-api/RUNBOOK.md).
    # The default suits one trusted server-side proxy key, the old web app's way (the old server had
    # no limit): 1,000 requests a second per worker is above what a worker serves.  A public key gets
    # its own tight limit in the key file (key_rate_limits).
    rate_limit: str = "60000/minute"
    # (key, limit) pairs from HISTORY_API_KEYS_FILE lines `<key> <limit>`; other keys get rate_limit.
    key_rate_limits: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # (key, "bulk" or "export", limit) from key file fields `bulk=<limit>` and `export=<limit>`;
    # other keys get bulk_rate_limit and export_rate_limit.
    key_route_limits: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)
    cors_origins: tuple[str, ...] = ()
    chart_token_ttl_s: int = 900
    past_page_max_age_s: int = 300
    max_query_string_bytes: int = 2_048
    token_secret: bytes = field(default=b"", repr=False)
    access_log: bool = True
    # A Server-Timing header on every response (timing.py): for load tests and diagnosis, off in production.
    server_timing: bool = False
    # GET /stream/latest: open streams per key in each worker, and the heartbeat that keeps proxies from closing them.
    stream_max_per_key: int = 8
    stream_heartbeat_s: int = 15
    log_level: str = "INFO"
    # Bulk reads and exports: a tighter per-key limit each (beside rate_limit), and their cost caps.
    bulk_rate_limit: str = "600/minute"
    export_rate_limit: str = "30/minute"
    bulk_max_tickers: int = 100
    # 25 years of 1d bars of every listed ticker is about 11 million; this leaves room for that.
    export_max_bars: int = 20_000_000
    # Bytes of /candles bodies each worker keeps in memory (history_api/page_cache.py); 0 turns the cache off.
    page_cache_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        keys = tuple(dict.fromkeys(self.api_keys))
        short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
        if short:
            raise SettingsError(
                f"{len(short)} API key(s) shorter than {MIN_KEY_LENGTH} characters; use long random keys"
            )
        object.__setattr__(self, "api_keys", keys)
        if not keys:
            raise SettingsError(
                "no API key configured: set HISTORY_API_KEYS (comma-separated), API_KEY or HISTORY_API_KEYS_FILE"
            )
        if not self.pg_url:
            raise SettingsError("no database URL: set HISTORY_API_PG_URL (or the old PG_URL)")
        for variable, text in (
            ("HISTORY_API_RATE_LIMIT", self.rate_limit),
            ("HISTORY_API_BULK_RATE_LIMIT", self.bulk_rate_limit),
            ("HISTORY_API_EXPORT_RATE_LIMIT", self.export_rate_limit),
        ):
            try:
                parse(text)
            except ValueError as exc:
                raise SettingsError(f"{variable}={text!r} is not like '1200/minute'") from exc
        unknown = [k for k, *_ in (*self.key_rate_limits, *self.key_route_limits) if k not in keys]
        if unknown:
            raise SettingsError(f"{len(unknown)} rate limit(s) name a key that is not configured")
        if not self.token_secret:
            # Tokens are signed with a secret derived from their own key (see KeyRing); this constant
            # only separates that use of the key from any other.
            object.__setattr__(self, "token_secret", b"history-api chart tokens")

    def rate_limit_item(self) -> RateLimitItem:
        return parse(self.rate_limit)

    def key_rate_limit_items(self) -> dict[str, RateLimitItem]:
        """The keys with a limit of their own, each with it; the last line for a key wins."""
        return {key: parse(limit) for key, limit in self.key_rate_limits}

    def key_route_limit_items(self) -> dict[tuple[str, str], RateLimitItem]:
        """(key, route) pairs with a bulk or export limit of their own, each with it; the last one wins."""
        return {(key, route): parse(limit) for key, route, limit in self.key_route_limits}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default: os.environ); a variable that is unset or empty leaves its field's default."""
        return cls(**_fields_from_env(os.environ if env is None else env))


# A parser turns one variable's raw text into its field's value; it gets the name for its error messages.
Parser = Callable[[str, str], Any]


class EnvVar(NamedTuple):
    name: str
    field: str
    parse: Parser


def _text(_: str, raw: str) -> str:
    return raw


def _listed(_: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(","))


def _one(_: str, raw: str) -> tuple[str, ...]:
    return (raw.strip(),)


# A key file line: `<key>`, then optionally its own limits: a bare `<limit>` for every request, and
# `bulk=<limit>` / `export=<limit>` for /candles/bulk and /export (bulk_limits.py).
KEY_FILE_ROUTES = ("bulk", "export")


# One key file line: the key, and its limits as (route, limit); route "" is the limit on every request.
KeyLine = tuple[str, list[tuple[str, str]]]


def _key_lines(name: str, raw: str) -> list[KeyLine]:
    """The key file's lines, # comments and blanks skipped, every limit checked and named by its line."""
    try:
        lines = Path(raw).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SettingsError(f"{name}={raw}: cannot read it ({exc.strerror})") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        limits = [(route, limit) for route, _, limit in (f.rpartition("=") for f in fields[1:])]
        for route, limit in limits:
            if route and route not in KEY_FILE_ROUTES:
                raise SettingsError(
                    f"{name}={raw} line {number}: {route!r} is not a limit name; use {', '.join(KEY_FILE_ROUTES)}"
                )
            try:
                parse(limit)
            except ValueError:
                raise SettingsError(
                    f"{name}={raw} line {number}: {limit!r} is not a rate limit like '600/minute'"
                ) from None
        if sum(1 for route, _ in limits if not route) > 1:
            raise SettingsError(
                f"{name}={raw} line {number}: expected '<key> [<limit>] [bulk=<limit>] [export=<limit>]'"
            )
        out.append((fields[0], limits))
    return out


def _keys_file(name: str, raw: str) -> tuple[str, ...]:
    return tuple(key for key, _ in _key_lines(name, raw))


def _key_limits_file(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    return tuple((key, limit) for key, limits in _key_lines(name, raw) for route, limit in limits if not route)


def _key_route_limits_file(name: str, raw: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((key, route, limit) for key, limits in _key_lines(name, raw) for route, limit in limits if route)


def _secret(_: str, raw: str) -> bytes:
    return raw.encode()


def _switch(_: str, raw: str) -> bool:
    return raw != "0"


def _log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name}={raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def _int_in(low: int, high: int) -> Parser:
    def parse_int(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not an integer") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value} is outside {low}..{high}")
        return value

    return parse_int


# Every variable the service reads. Where several feed one field, key lists add up; for any other
# field the first one set wins, and the later names are the old server's, kept for the cut-over.
ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar("HISTORY_API_PG_URL", "pg_url", _text),
    EnvVar("PG_URL", "pg_url", _text),
    EnvVar("HISTORY_API_KEYS", "api_keys", _listed),
    # The old server's single key keeps working, so existing clients survive the cut-over.
    EnvVar("API_KEY", "api_keys", _one),
    EnvVar("HISTORY_API_KEYS_FILE", "api_keys", _keys_file),
    EnvVar("HISTORY_API_KEYS_FILE", "key_rate_limits", _key_limits_file),
    EnvVar("HISTORY_API_KEYS_FILE", "key_route_limits", _key_route_limits_file),
    EnvVar("HISTORY_API_HOST", "host", _text),
    EnvVar("HOST", "host", _text),
    EnvVar("PORT", "port", _int_in(1, 65535)),
    EnvVar("HISTORY_API_WORKERS", "workers", _int_in(1, 64)),
    EnvVar("PG_POOL_MIN", "pool_min", _int_in(0, 100)),
    EnvVar("PG_POOL_MAX", "pool_max", _int_in(1, 200)),
    EnvVar("HISTORY_API_STATEMENT_TIMEOUT_MS", "statement_timeout_ms", _int_in(100, 600_000)),
    EnvVar("HISTORY_API_RATE_LIMIT", "rate_limit", _text),
    EnvVar("HISTORY_API_CORS_ORIGINS", "cors_origins", _listed),
    EnvVar("HISTORY_API_CHART_TOKEN_TTL_S", "chart_token_ttl_s", _int_in(30, 86_400)),
    EnvVar("HISTORY_API_TOKEN_SECRET", "token_secret", _secret),
    EnvVar("HISTORY_API_ACCESS_LOG", "access_log", _switch),
    EnvVar("HISTORY_API_SERVER_TIMING", "server_timing", _switch),
    EnvVar("HISTORY_API_STREAM_MAX_PER_KEY", "stream_max_per_key", _int_in(1, 1000)),
    EnvVar("HISTORY_API_STREAM_HEARTBEAT_S", "stream_heartbeat_s", _int_in(1, 300)),
    EnvVar("LOG_LEVEL", "log_level", _log_level),
    EnvVar("HISTORY_API_BULK_RATE_LIMIT", "bulk_rate_limit", _text),
    EnvVar("HISTORY_API_EXPORT_RATE_LIMIT", "export_rate_limit", _text),
    EnvVar("HISTORY_API_BULK_MAX_TICKERS", "bulk_max_tickers", _int_in(1, 2000)),
    EnvVar("HISTORY_API_EXPORT_MAX_BARS", "export_max_bars", _int_in(1, 1_000_000_000)),
    EnvVar("HISTORY_API_PAGE_CACHE_BYTES", "page_cache_bytes", _int_in(0, 1 << 40)),
)


def _fields_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The fields `env` sets, by `ENVIRONMENT`: the one place the service reads its environment."""
    values: dict[str, Any] = {}
    for var in ENVIRONMENT:
        raw = env.get(var.name, "")
        if raw == "":
            continue
        value = var.parse(var.name, raw)
        if isinstance(value, tuple):
            values[var.field] = values.get(var.field, ()) + tuple(item for item in value if item)
        else:
            values.setdefault(var.field, value)
    return values
