"""Server-Timing: each stage of a request, only when HISTORY_API_SERVER_TIMING asks for it."""

from __future__ import annotations

import os
import time

from litestar.testing import TestClient

from history_api.app import create_app
from tests.history_api.conftest import KEY, ApiDatabase, Params, api_settings

CANDLES: Params = {"ticker": "VCB", "tf": "1d", "limit": 50}


def stages(header: str) -> dict[str, str]:
    parts = (p.strip().partition(";") for p in header.split(","))
    return {name: rest for name, _, rest in parts}


def test_stages_are_reported_when_asked_for(api_db: ApiDatabase) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn, server_timing=True))) as c:
        sent_us = time.time_ns() // 1000 - 5_000  # as if written 5 ms ago
        res = c.get("/candles", params=CANDLES, headers={"X-API-Key": KEY, "X-Request-Start": f"t={sent_us}"})
    assert res.status_code == 200
    found = stages(res.headers["server-timing"])
    assert {"acquire", "query", "gc", "app", "queue", "w"} <= found.keys(), found
    assert float(found["queue"].removeprefix("dur=")) >= 5.0
    assert float(found["query"].removeprefix("dur=")) > 0.0
    assert found["w"] == f'desc="{os.getpid()}"'


def test_no_server_timing_by_default(api_db: ApiDatabase) -> None:
    with TestClient(create_app(api_settings(api_db.reader_dsn))) as c:
        res = c.get("/candles", params=CANDLES, headers={"X-API-Key": KEY})
    assert res.status_code == 200 and "server-timing" not in res.headers
