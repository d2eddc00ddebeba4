"""The History API's settings, read once from the environment; keys and URLs never reach a repr or a log."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from limits import RateLimitItem, parse


class SettingsError(ValueError):
    """The environment does not describe a service that can run safely."""


def _keys_from(env: Mapping[str, str]) -> tuple[str, ...]:
    keys: list[str] = []
    keys += [k.strip() for k in env.get("HISTORY_API_KEYS", "").split(",")]
    # The old server's single key keeps working, so existing clients survive the cut-over.
    keys.append(env.get("API_KEY", "").strip())
    if path := env.get("HISTORY_API_KEYS_FILE"):
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SettingsError(f"HISTORY_API_KEYS_FILE={path}: cannot read it ({exc.strerror})") from exc
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    unique = tuple(dict.fromkeys(k for k in keys if k))
    short = [k for k in unique if len(k) < 16]
    if short:
        raise SettingsError(f"{len(short)} API key(s) shorter than 16 characters; use long random keys")
    return unique


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the service needs; build it with `Settings.from_env()` or directly in tests."""

    pg_url: str = field(repr=False)
    api_keys: tuple[str, ...] = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout_s: float = 3.0
    statement_timeout_ms: int = 5_000
    # Per key and per worker process: each worker counts on its own (see deploy/history-api/RUNBOOK.md).
    rate_limit: str = "1200/minute"
    cors_origins: tuple[str, ...] = ()
    chart_token_ttl_s: int = 900
    past_page_max_age_s: int = 300
    max_query_string_bytes: int = 2_048
    token_secret: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise SettingsError(
                "no API key configured: set HISTORY_API_KEYS (comma-separated), API_KEY or HISTORY_API_KEYS_FILE"
            )
        if not self.pg_url:
            raise SettingsError("no database URL: set HISTORY_API_PG_URL (or the old PG_URL)")
        try:
            self.rate_limit_item()
        except ValueError as exc:
            raise SettingsError(f"HISTORY_API_RATE_LIMIT={self.rate_limit!r} is not like '1200/minute'") from exc
        if not self.token_secret:
            # Tokens are signed with a secret derived from their own key (see KeyRing); this constant
            # only separates that use of the key from any other.
            object.__setattr__(self, "token_secret", b"history-api chart tokens")

    def rate_limit_item(self) -> RateLimitItem:
        return parse(self.rate_limit)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        origins = tuple(o.strip() for o in env.get("HISTORY_API_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            pg_url=env.get("HISTORY_API_PG_URL") or env.get("PG_URL", ""),
            api_keys=_keys_from(env),
            host=env.get("HISTORY_API_HOST", env.get("HOST", "127.0.0.1")),
            port=_int(env, "PORT", 8787, 1, 65535),
            workers=_int(env, "HISTORY_API_WORKERS", 1, 1, 64),
            pool_min=_int(env, "PG_POOL_MIN", 1, 0, 100),
            pool_max=_int(env, "PG_POOL_MAX", 10, 1, 200),
            statement_timeout_ms=_int(env, "HISTORY_API_STATEMENT_TIMEOUT_MS", 5_000, 100, 600_000),
            rate_limit=env.get("HISTORY_API_RATE_LIMIT", "1200/minute"),
            cors_origins=origins,
            chart_token_ttl_s=_int(env, "HISTORY_API_CHART_TOKEN_TTL_S", 900, 30, 86_400),
            token_secret=env.get("HISTORY_API_TOKEN_SECRET", "").encode(),
        )
