"""Walking /candles with beforeTs while a restated series is replaced: no bar twice, none missing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from litestar.testing import TestClient

from history_api.app import create_app
from tests.conftest import MigratedDatabase
from tests.history_api.conftest import KEY, Client, Params, api_settings
from tests.timescale.test_candle_store import FEB_13, series
from tests.timescale.test_series_replacement import rescaled, restatement
from vietmarket_pipelines.restatement import ReplacementSeries
from vietmarket_pipelines.timescale.candle_store import CandleStore

BARS = 1_500
DAY = 86_400_000


@pytest.fixture
def client(clean_db: MigratedDatabase) -> Iterator[Client]:
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO symbols (ticker, exchange, kind) VALUES ('VCB', 'HOSE', 'stock')")
    conn.close()
    with TestClient(create_app(api_settings(clean_db.reader_dsn))) as c:
        c.headers["X-API-Key"] = KEY
        yield c


def test_paging_across_a_replacement_returns_every_bar_once(clean_db: MigratedDatabase, client: Client) -> None:
    old = series("VCB", BARS, end=FEB_13 - DAY)
    store = CandleStore(clean_db.writer_dsn)
    list(store.write_partitions([old]))
    # The provider's whole history after an ex-date a month ago: the same bars, the older ones
    # halved, and a new bar today.
    ex_ts = FEB_13 - 30 * DAY
    full = rescaled(series("VCB", BARS + 1, end=FEB_13), 0.5, ex_ts)

    walked: list[tuple[int, float]] = []
    params: Params = {"ticker": "VCB", "tf": "1d", "limit": 200}
    for page in range(BARS):
        body = client.get("/candles", params=params).json()
        walked += [(r["ts"], r["c"]) for r in body["rows"]]
        if page == 1:
            with store.writer() as writer:
                writer.replace(ReplacementSeries(full, restatement(0.5)))
        if body["nextBeforeTs"] is None:
            break
        params["beforeTs"] = body["nextBeforeTs"]

    ts = [t for t, _ in walked]
    assert ts == sorted(old.frame["ts"].tolist(), reverse=True), "every stored bar once, newest first"
    closes = np.array([c for _, c in walked])
    # The first two pages were read before the replacement, the rest after it, on the new basis.
    assert set(closes[:400]) == {10.0} and set(closes[400:]) == {5.0}
    assert ts[400] < ex_ts
