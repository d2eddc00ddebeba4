"""Keys (several at once, the old API_KEY, a keys file), chart tokens, per-key rate limits, CORS."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from history_api.auth import KeyRing, key_id
from history_api.settings import Settings, SettingsError
from tests.history_api.conftest import KEY, LEGACY_KEY, OTHER_KEY, ApiDatabase, Client, Params, api_settings

CANDLES: Params = {"ticker": "VCB", "tf": "1d", "limit": 1}


@pytest.mark.parametrize("key", [KEY, OTHER_KEY, LEGACY_KEY])
def test_every_configured_key_works(client: Client, key: str) -> None:
    assert client.get("/candles", params=CANDLES, headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": ""}, {"X-API-Key": KEY[:-1]}, {"X-API-Key": KEY + "x"}, {"X-API-Key": "nope"}, {}],
    ids=["empty", "prefix", "longer", "wrong", "missing"],
)
def test_a_wrong_or_missing_key_is_401_unauthorized(api_db: ApiDatabase, headers: dict[str, str]) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        for path in ["/candles", "/latest?tf=1d", "/symbols", "/news/latest", "/udf/config"]:
            res = c.get(path, params=CANDLES if path == "/candles" else None, headers=headers)
            assert res.status_code == 401, path
            assert res.json()["error"] == "unauthorized"


def test_401_comes_before_parameter_validation(api_db: ApiDatabase) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        assert c.get("/candles", params={"ticker": "'; --"}).status_code == 401


def test_keys_come_from_the_env_the_old_variable_and_a_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# rotated in 2026-11\nfile-key-" + "f" * 20 + "\n\n")
    settings = Settings.from_env(
        {
            "HISTORY_API_PG_URL": "postgresql://reader@db/vietmarket",
            "HISTORY_API_KEYS": f" {KEY} ,{OTHER_KEY},",
            "API_KEY": LEGACY_KEY,
            "HISTORY_API_KEYS_FILE": str(keys_file),
        }
    )
    assert settings.api_keys == (KEY, OTHER_KEY, LEGACY_KEY, "file-key-" + "f" * 20)
    assert KEY not in repr(settings) and "reader@db" not in repr(settings)


def test_settings_refuse_to_run_without_keys_or_with_weak_ones() -> None:
    with pytest.raises(SettingsError, match="no API key"):
        Settings.from_env({"HISTORY_API_PG_URL": "postgresql://x"})
    with pytest.raises(SettingsError, match="shorter than 16"):
        Settings.from_env({"HISTORY_API_PG_URL": "postgresql://x", "API_KEY": "secret"})
    with pytest.raises(SettingsError, match="HISTORY_API_RATE_LIMIT"):
        Settings.from_env({"HISTORY_API_PG_URL": "postgresql://x", "API_KEY": KEY, "HISTORY_API_RATE_LIMIT": "lots"})


def test_keys_never_reach_the_logs(api_db: ApiDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        c.get("/candles", params=CANDLES, headers={"X-API-Key": KEY})
        c.get("/candles", params=CANDLES, headers={"X-API-Key": "wrong-key-" + "z" * 20})
    assert KEY not in caplog.text and "z" * 20 not in caplog.text


def test_key_matching_is_by_digest_and_names_the_key_by_id() -> None:
    ring = KeyRing((KEY, OTHER_KEY), b"secret")
    assert ring.match(OTHER_KEY) == key_id(OTHER_KEY)
    assert ring.match(OTHER_KEY.upper()) is None
    assert key_id(KEY) not in KEY and len(key_id(KEY)) == 12


def test_chart_tokens_expire_and_die_with_their_key() -> None:
    ring = KeyRing((KEY, OTHER_KEY), b"secret")
    token, expires_ms = ring.issue_token(key_id(KEY), ttl_s=60, now=1_000_000)
    assert KEY not in token and expires_ms == 1_000_060_000
    assert ring.verify_token(token, now=1_000_030) == key_id(KEY)
    assert ring.verify_token(token, now=1_000_061) is None
    kid, exp, sig = token.split(".")
    assert ring.verify_token(f"{kid}.{int(exp) + 1000}.{sig}", now=1_000_030) is None  # tampered expiry
    assert KeyRing((KEY,), b"other secret").verify_token(token, now=1_000_030) is None
    assert KeyRing((OTHER_KEY,), b"secret").verify_token(token, now=1_000_030) is None  # KEY rotated out
    # Adding or removing another key leaves KEY's tokens valid.
    assert KeyRing((KEY, LEGACY_KEY), b"secret").verify_token(token, now=1_000_030) == key_id(KEY)


def test_a_chart_token_reads_data_as_a_bearer(client: Client) -> None:
    issued = client.post("/chart-token", params={"ticker": "vcb", "tf": "1h"})
    assert issued.status_code == 201
    body = issued.json()
    assert body["chartUrl"].startswith("/chart?ticker=VCB&tf=1h#token=")
    assert body["expiresAt"] > time.time() * 1000
    bearer = {"X-API-Key": "", "Authorization": f"Bearer {body['token']}"}
    assert client.get("/candles", params=CANDLES, headers=bearer).status_code == 200
    forged = {"X-API-Key": "", "Authorization": f"Bearer {body['token'][:-2]}xx"}
    assert client.get("/candles", params=CANDLES, headers=forged).status_code == 401
    # A token cannot mint tokens, or it would never expire.
    renewed = client.post("/chart-token", headers=bearer)
    assert renewed.status_code == 401 and renewed.json()["error"] == "unauthorized"


def test_the_chart_page_source_holds_no_key(client: Client) -> None:
    page = client.get("/chart", params={"ticker": "VCB"}, headers={"X-API-Key": ""})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert KEY not in page.text and OTHER_KEY not in page.text and LEGACY_KEY not in page.text


def test_rate_limit_is_per_key_with_headers_and_retry_after(api_db: ApiDatabase) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn, rate_limit="3/minute"))) as c:
        answers = [c.get("/candles", params=CANDLES, headers={"X-API-Key": KEY}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3"
        limited = answers[3]
        assert limited.json()["error"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Another key has its own budget; health checks are never limited.
        assert c.get("/candles", params=CANDLES, headers={"X-API-Key": OTHER_KEY}).status_code == 200
        assert all(c.get("/healthz").status_code == 200 for _ in range(5))


def test_cors_is_off_by_default_and_an_allow_list_when_configured(api_db: ApiDatabase) -> None:
    origin = {"Origin": "https://chart.example.vn"}
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        res = c.get("/healthz", headers=origin)
        assert "access-control-allow-origin" not in res.headers
    with TestClient(create_app(api_settings(api_db.reader_dsn, cors_origins=("https://chart.example.vn",)))) as c:
        assert c.get("/healthz", headers=origin).headers["access-control-allow-origin"] == "https://chart.example.vn"
        evil = c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers


def test_an_oversized_query_string_is_refused(client: Client) -> None:
    res = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "pad": "x" * 5000})
    assert res.status_code == 414 and res.json()["error"] == "uri_too_long"


@pytest.mark.parametrize("path", ["/chart-token", "/charts", "/healthzz", "/schemas"])
def test_paths_that_merely_start_like_public_ones_are_protected(api_db: ApiDatabase, path: str) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        res = c.post(path) if path == "/chart-token" else c.get(path)
        assert res.status_code in (401, 404), res.text
        assert res.status_code == 401 or path != "/chart-token"


def test_a_nul_byte_anywhere_in_the_query_is_a_400(client: Client) -> None:
    for path in ["/udf/search?query=V%00", "/candles?ticker=VCB%00&tf=1d", "/news/latest?cursor=%00"]:
        res = client.get(path)
        assert res.status_code == 400 and res.json()["error"] == "invalid_request", path
