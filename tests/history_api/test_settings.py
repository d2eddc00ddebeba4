"""Settings: one table of variables, the defaults only on the struct, and no other reader of the environment."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

import history_api
from history_api.settings import ENVIRONMENT, Settings, SettingsError
from tests.history_api.conftest import KEY, LEGACY_KEY

REQUIRED = {"HISTORY_API_PG_URL": "postgresql://reader@db/vietmarket", "HISTORY_API_KEYS": KEY}


def test_the_environment_adds_no_default_of_its_own() -> None:
    assert Settings.from_env(REQUIRED) == Settings(pg_url=REQUIRED["HISTORY_API_PG_URL"], api_keys=(KEY,))


def test_every_variable_sets_a_settings_field() -> None:
    names = {f.name for f in fields(Settings)}
    assert {var.field for var in ENVIRONMENT} <= names
    # A variable may feed several fields (the key file: keys and their limits), each only once.
    assert len({(var.name, var.field) for var in ENVIRONMENT}) == len(ENVIRONMENT)


def test_each_variable_reaches_its_field() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "HISTORY_API_HOST": "0.0.0.0",
            "PORT": "9000",
            "HISTORY_API_WORKERS": "3",
            "PG_POOL_MIN": "0",
            "PG_POOL_MAX": "20",
            "HISTORY_API_STATEMENT_TIMEOUT_MS": "250",
            "HISTORY_API_RATE_LIMIT": "5/second",
            "HISTORY_API_CORS_ORIGINS": " https://a.example , ,https://b.example",
            "HISTORY_API_CHART_TOKEN_TTL_S": "60",
            "HISTORY_API_TOKEN_SECRET": "s3cret-s3cret",
            "HISTORY_API_ACCESS_LOG": "0",
            "LOG_LEVEL": "debug",
        }
    )
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9000, 3)
    assert (settings.pool_min, settings.pool_max, settings.statement_timeout_ms) == (0, 20, 250)
    assert settings.rate_limit == "5/second"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.chart_token_ttl_s == 60 and settings.token_secret == b"s3cret-s3cret"
    assert settings.access_log is False and settings.log_level == "DEBUG"
    assert "s3cret" not in repr(settings) and KEY not in repr(settings) and "reader@db" not in repr(settings)


def test_the_bulk_limits_reach_their_fields() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "HISTORY_API_BULK_RATE_LIMIT": "7/second",
            "HISTORY_API_EXPORT_RATE_LIMIT": "3/hour",
            "HISTORY_API_BULK_MAX_TICKERS": "40",
            "HISTORY_API_EXPORT_MAX_BARS": "123456",
        }
    )
    assert (settings.bulk_rate_limit, settings.export_rate_limit) == ("7/second", "3/hour")
    assert (settings.bulk_max_tickers, settings.export_max_bars) == (40, 123456)


def test_the_page_cache_bound_reaches_its_field_and_zero_turns_it_off() -> None:
    assert Settings.from_env(REQUIRED).page_cache_bytes == 64 * 1024 * 1024
    assert Settings.from_env({**REQUIRED, "HISTORY_API_PAGE_CACHE_BYTES": "4096"}).page_cache_bytes == 4096
    assert Settings.from_env({**REQUIRED, "HISTORY_API_PAGE_CACHE_BYTES": "0"}).page_cache_bytes == 0


def test_the_old_names_count_only_when_the_new_ones_are_unset() -> None:
    old = Settings.from_env({"PG_URL": "postgresql://old@db/v", "API_KEY": LEGACY_KEY, "HOST": "10.0.0.1"})
    assert (old.pg_url, old.api_keys, old.host) == ("postgresql://old@db/v", (LEGACY_KEY,), "10.0.0.1")
    both = Settings.from_env({**REQUIRED, "PG_URL": "postgresql://old@db/v", "HISTORY_API_HOST": "::1", "HOST": "x"})
    assert (both.pg_url, both.host) == (REQUIRED["HISTORY_API_PG_URL"], "::1")


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("PORT", "http", "PORT='http' is not an integer"),
        ("PORT", "70000", "PORT=70000 is outside 1..65535"),
        ("HISTORY_API_WORKERS", "0", "outside 1..64"),
        ("HISTORY_API_STATEMENT_TIMEOUT_MS", "99", "outside 100..600000"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not one of"),
        ("HISTORY_API_KEYS_FILE", "/nonexistent/keys", "cannot read it"),
        ("HISTORY_API_EXPORT_RATE_LIMIT", "lots", "HISTORY_API_EXPORT_RATE_LIMIT='lots' is not like"),
        ("HISTORY_API_BULK_RATE_LIMIT", "9/fortnight", "HISTORY_API_BULK_RATE_LIMIT='9/fortnight' is not like"),
        ("HISTORY_API_BULK_MAX_TICKERS", "0", "outside 1..2000"),
        ("HISTORY_API_EXPORT_MAX_BARS", "many", "HISTORY_API_EXPORT_MAX_BARS='many' is not an integer"),
        ("HISTORY_API_PAGE_CACHE_BYTES", "-1", "HISTORY_API_PAGE_CACHE_BYTES=-1 is outside 0..1099511627776"),
    ],
)
def test_a_bad_value_is_a_settings_error_naming_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({**REQUIRED, name: raw})


def test_only_settings_py_reads_the_environment() -> None:
    package = Path(history_api.__file__).parent
    readers = re.compile(r"\bos\.environ\b|\bgetenv\(|\benviron\.get\(")
    found = [p.name for p in package.rglob("*.py") if readers.search(p.read_text(encoding="utf-8"))]
    assert found == ["settings.py"]
