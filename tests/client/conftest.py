"""The client's tests run against the real service: `python -m history_api` over the History API's seeded databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from tests.history_api.conftest import KEY, LiveApi, api_db, live_api, start_live_api, stop_live_api
from tests.history_api.prices_market import PricesDatabase, prices_db
from vietmarket_client import Client

__all__ = ["api_db", "live_api", "prices_db"]  # fixtures shared with tests/history_api


@pytest.fixture
def client(live_api: LiveApi) -> Iterator[Client]:
    """A client of the live API over the main seed (VCB's daily history since 2014, its last 40 days hourly)."""
    with Client(live_api.url, KEY) as c:
        yield c


@pytest.fixture(scope="module")
def prices_api(prices_db: PricesDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """The live API over the market where adjusted != raw (prices_market.py)."""
    api = start_live_api(prices_db.reader_dsn, str(tmp_path_factory.mktemp("prices-api")))
    yield api
    stop_live_api(api)


def bar_times(index: pd.Index[Any]) -> pd.DatetimeIndex:
    """A frame's bar times, which the client promises are a tz-aware DatetimeIndex (or such a level)."""
    assert isinstance(index, pd.DatetimeIndex), type(index)
    return index
