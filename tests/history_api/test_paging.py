"""Walking a whole series with nextBeforeTs, and the HTTP caching and compression of its pages."""

from __future__ import annotations

import pytest

from tests.history_api.conftest import ApiDatabase, Client, Params


@pytest.mark.parametrize(("tf", "limit"), [("1d", 500), ("1d", 2000), ("1d", 1), ("1h", 37)])
def test_walking_next_before_ts_returns_every_bar_once_newest_first(
    client: Client, api_db: ApiDatabase, tf: str, limit: int
) -> None:
    stored = sorted(api_db.daily_ts if tf == "1d" else api_db.hourly_ts, reverse=True)
    if limit == 1:
        stored = stored[:50]  # one bar per request: walk the newest 50 and stop
    walked: list[int] = []
    params: Params = {"ticker": "VCB", "tf": tf, "limit": limit}
    for _ in range(len(stored) + 2):
        body = client.get("/candles", params=params).json()
        walked += [r["ts"] for r in body["rows"]]
        if body["nextBeforeTs"] is None or len(walked) >= len(stored):
            break
        assert body["count"] == limit
        params["beforeTs"] = body["nextBeforeTs"]
    assert walked[: len(stored)] == stored
    assert len(walked) == len(set(walked))


def test_the_last_page_says_history_is_exhausted(client: Client, api_db: ApiDatabase) -> None:
    oldest = min(api_db.daily_ts)
    second_oldest = sorted(api_db.daily_ts)[1]
    body = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "beforeTs": second_oldest, "limit": 5}).json()
    assert [r["ts"] for r in body["rows"]] == [oldest]
    assert body["nextBeforeTs"] is None
    # Exactly `limit` bars left: the page is full, and still the last one.
    third = sorted(api_db.daily_ts)[2]
    body = client.get("/candles", params={"ticker": "VCB", "tf": "1d", "beforeTs": third, "limit": 2}).json()
    assert body["count"] == 2 and body["nextBeforeTs"] is None


def test_settled_pages_are_cacheable_and_revalidate_with_304(client: Client, api_db: ApiDatabase) -> None:
    before = sorted(api_db.daily_ts)[500]
    params: Params = {"ticker": "VCB", "tf": "1d", "beforeTs": before, "limit": 100}
    first = client.get("/candles", params=params)
    assert first.headers["cache-control"] == "private, max-age=300"
    etag = first.headers["etag"]
    again = client.get("/candles", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = client.get("/candles", params=params | {"limit": 99}, headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_the_newest_page_must_revalidate(client: Client) -> None:
    res = client.get("/candles", params={"ticker": "VCB", "tf": "1d"})
    assert res.headers["cache-control"] == "private, no-cache"
    again = client.get("/candles", params={"ticker": "VCB", "tf": "1d"}, headers={"If-None-Match": res.headers["etag"]})
    assert again.status_code == 304


def test_responses_are_gzipped_when_the_client_accepts_it(client: Client) -> None:
    params: Params = {"ticker": "VCB", "tf": "1d", "limit": 2000}
    plain = client.get("/candles", params=params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = client.get("/candles", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    # httpx decodes transparently; the wire size is what the client saved.
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.content == plain.content
