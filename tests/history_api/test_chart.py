"""The chart page in headless Chromium: token-only access, first page, infinite scroll to the left, picker."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.history_api.conftest import KEY, RAW_DAYS, ApiDatabase, LiveApi
from vietmarket_core.market import daily_bar_ts

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 60_000  # two shared cores: be generous
PAGE = 500
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "history-api-chart.png"
MARKS_ARTIFACT = ARTIFACT.with_name("history-api-chart-ex-dates.png")
ACTIVE = {"VCB", "VCG", "SHB", "BCM", "VNINDEX"}

# Counts pixels in the bottom strip of each canvas that carry the volume histogram's colours
# (50 % teal / red over white).  The candles keep a 10 % bottom margin, so only volume lands there.
_VOLUME_PIXELS_JS = """() => {
  const near = (d, i, rgb) => rgb.every((v, k) => Math.abs(d[i + k] - v) <= 6);
  let best = 0;
  for (const cv of document.querySelectorAll("#chart canvas")) {
    if (cv.width < 100 || cv.height < 100) continue;
    const y0 = Math.floor(cv.height * 0.92), h = cv.height - y0;
    const d = cv.getContext("2d").getImageData(0, y0, cv.width, h).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (near(d, i, [146, 210, 204]) || near(d, i, [247, 169, 167])) n++;
    }
    best = Math.max(best, n);
  }
  return best;
}"""


# Counts the pixels of one marker colour anywhere on the chart's canvases.
_COLOUR_PIXELS_JS = """(rgb) => {
  let best = 0;
  for (const cv of document.querySelectorAll("#chart canvas")) {
    if (cv.width < 100 || cv.height < 100) continue;
    const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - rgb[0]) <= 8 && Math.abs(d[i + 1] - rgb[1]) <= 8 && Math.abs(d[i + 2] - rgb[2]) <= 8) n++;
    }
    best = Math.max(best, n);
  }
  return best;
}"""
ORANGE = [255, 165, 0]  # the cash-dividend mark's colour, "orange"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the system chromium package (no browser is downloaded)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield b
        b.close()


class PageWatch:
    """Everything the page says or asks for: console errors, uncaught exceptions, requests."""

    def __init__(self, page: Page) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[Request] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("request", self._request)

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console_errors.append(f"{msg.text} @ {msg.location}")

    def paths(self, prefix: str) -> list[str]:
        return [r.url for r in self.requests if httpx.URL(r.url).path == prefix]


def chart_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("() => JSON.parse(JSON.stringify(window.__chartState))")
    return state


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    yield pg
    context.close()


def issue_token(live_api: LiveApi) -> tuple[str, str]:
    resp = httpx.post(
        live_api.url + "/chart-token", params={"ticker": "VCB", "tf": "1d"}, headers={"X-API-Key": KEY}, timeout=30
    )
    assert resp.status_code == 201, resp.text
    issued = resp.json()
    token, chart_url = issued["token"], issued["chartUrl"]
    assert chart_url.endswith("#token=" + token)
    return token, chart_url


def check_picker(page: Page) -> None:
    """The ticker picker: the input and a datalist filled from /symbols?active=true."""
    assert page.input_value("#ticker") == "VCB"
    assert page.get_attribute("#ticker", "list") == "tickers"
    page.wait_for_function("() => document.querySelectorAll('#tickers option').length >= 5", timeout=WAIT_MS)
    options = set(page.eval_on_selector_all("#tickers option", "els => els.map(e => e.value)"))
    assert options >= ACTIVE, options
    assert "OLDCO" not in options, "inactive symbols do not belong in the picker"


def scroll_left(page: Page, watch: PageWatch, state: dict[str, Any], pages: int) -> dict[str, Any]:
    """Scrolls left the way a user does, dragging the plot to the right, until `pages` pages are loaded."""
    box = page.locator("#chart").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.4
    x0, x1 = box["x"] + box["width"] * 0.1, box["x"] + box["width"] * 0.8
    drags = 0
    deadline = time.monotonic() + 120
    while state["pagesLoaded"] < pages and drags < 60 and time.monotonic() < deadline:
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move(x1, y, steps=12)
        page.mouse.up()
        drags += 1
        before = state["pagesLoaded"]
        # A timeout only means this drag did not bring the left edge close enough yet.
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                f"() => window.__chartState.pagesLoaded > {before} || window.__chartState.errors.length > 0",
                timeout=1_500,
            )
        state = chart_state(page)
        assert state["errors"] == [], state["errors"]
    assert state["pagesLoaded"] >= pages, (
        f"scrolling left loaded only {state['pagesLoaded']} page(s) after {drags} drags "
        f"({len(state['times'])} bars, exhausted={state['exhausted']}); "
        f"/candles requests: {watch.paths('/candles')}"
    )
    return state


def check_requests_carry_the_token_only(watch: PageWatch, token: str) -> None:
    candle_reqs = [r for r in watch.requests if httpx.URL(r.url).path == "/candles"]
    assert len(candle_reqs) >= 4
    for r in candle_reqs:
        headers = r.all_headers()
        assert headers.get("authorization") == "Bearer " + token
        assert "x-api-key" not in headers
    for r in watch.requests:
        assert KEY not in r.url and KEY not in str(r.all_headers()), f"the API key left the page: {r.url}"


def check_ex_date_markers(live_api: LiveApi, state: dict[str, Any]) -> None:
    """Every ex-date in the loaded history has its marker on its own daily bar, as /udf/timescale_marks says."""
    marks = httpx.get(
        live_api.url + "/udf/timescale_marks",
        params={"symbol": "VCB", "resolution": "D", "from": 0, "to": 2_000_000_000},
        headers={"X-API-Key": KEY},
        timeout=30,
    ).json()
    loaded = [m for m in marks if m["time"] * 1000 >= state["times"][0]]
    assert len(loaded) >= 5, "the seed should put several ex-dates in the loaded history"
    assert [m["id"] for m in state["marks"]] == [m["id"] for m in marks]
    expected = [{"id": m["id"], "time": m["time"], "text": m["label"]} for m in loaded]
    assert state["markers"] == expected, "the chart's series markers are not the ex-dates' bars"
    assert all(m["time"] * 1000 in state["times"] for m in loaded)


def test_chart_loads_and_scrolls_into_older_history(page: Page, live_api: LiveApi, api_db: ApiDatabase) -> None:
    token, chart_url = issue_token(live_api)
    watch = PageWatch(page)

    nav = page.goto(live_api.url + chart_url, wait_until="load")
    assert nav is not None and nav.status == 200
    html = nav.text()
    assert KEY not in html, "the chart page source leaks the API key"
    assert token not in html, "the token belongs in the URL fragment only, never in the page source"
    assert "#token" not in nav.request.url, "the fragment must not be sent to the server"

    page.wait_for_function("() => window.__chartState && window.__chartState.pagesLoaded >= 1", timeout=WAIT_MS)
    first = chart_state(page)
    assert first["errors"] == []
    assert first["pagesLoaded"] == 1 and len(first["times"]) == PAGE, (first["pagesLoaded"], len(first["times"]))
    assert "token=" not in page.url, "the page should drop the token from its URL"

    # The newest page holds VCB's 2025-09-18 cash dividend: its marker is drawn on the chart.
    page.wait_for_function("() => window.__chartState.markers.some((m) => m.id === '2025-09-18')", timeout=WAIT_MS)
    orange = page.evaluate(_COLOUR_PIXELS_JS, ORANGE)
    assert orange > 20, f"the 2025-09-18 ex-date marker is not drawn ({orange} orange pixels)"
    page.mouse.move(0, 0)
    MARKS_ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(MARKS_ARTIFACT), full_page=True)

    check_picker(page)
    state = scroll_left(page, watch, first, pages=4)

    times = state["times"]
    assert all(a < b for a, b in itertools.pairwise(times)), "bars must be strictly ascending, no dups"
    assert times == sorted(api_db.daily_ts)[-len(times) :], "the chart's bars are not VCB's newest daily bars"
    assert len(times) >= 4 * PAGE

    check_requests_carry_the_token_only(watch, token)
    check_ex_date_markers(live_api, state)

    # The volume histogram is really drawn under the candles.
    volume_pixels = page.evaluate(_VOLUME_PIXELS_JS)
    assert volume_pixels > 200, f"no volume histogram in the chart's bottom strip ({volume_pixels} pixels)"

    page.mouse.move(0, 0)  # keep the crosshair out of the screenshot
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACT), full_page=True)

    assert watch.page_errors == [], watch.page_errors
    assert watch.console_errors == [], watch.console_errors


def test_chart_switches_to_raw_prices(page: Page, live_api: LiveApi, api_db: ApiDatabase) -> None:
    _, chart_url = issue_token(live_api)
    watch = PageWatch(page)
    page.goto(live_api.url + chart_url, wait_until="load")
    page.wait_for_function("() => window.__chartState.pagesLoaded >= 1", timeout=WAIT_MS)
    assert all("adjustment" not in url for url in watch.paths("/candles")), "the default basis is not sent"
    page.select_option("#adjustment", "raw")
    # finfo has only VCB's newest sessions: the raw series is one short page, all of history.
    page.wait_for_function(
        "() => window.__chartState.pagesLoaded >= 1 && window.__chartState.exhausted", timeout=WAIT_MS
    )
    state = chart_state(page)
    assert state["errors"] == []
    assert state["times"] == sorted(api_db.daily_ts)[-RAW_DAYS:]
    assert any("adjustment=raw" in url for url in watch.paths("/candles"))
    assert "adjustment=raw" in page.url
    assert watch.page_errors == [] and watch.console_errors == []


def test_chart_without_token_shows_the_error_and_fetches_nothing(page: Page, live_api: LiveApi) -> None:
    watch = PageWatch(page)
    nav = page.goto(live_api.url + "/chart?ticker=VCB&tf=1d", wait_until="load")
    assert nav is not None and nav.status == 200
    page.wait_for_function("() => window.__chartState && window.__chartState.errors.length > 0", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)

    status = page.locator("#status")
    assert "no access token" in status.inner_text()
    assert status.get_attribute("class") == "error"
    state = chart_state(page)
    assert state["pagesLoaded"] == 0 and state["times"] == []
    assert watch.paths("/candles") == [] and watch.paths("/symbols") == [], [r.url for r in watch.requests]
    assert watch.page_errors == [], watch.page_errors
    assert watch.console_errors == [], watch.console_errors


PURPLE = [128, 0, 128]  # a news mark of a confident link (>= 0.8), "purple"


def test_chart_draws_the_news_marks(page: Page, live_api: LiveApi) -> None:
    _, chart_url = issue_token(live_api)
    watch = PageWatch(page)
    page.goto(live_api.url + chart_url, wait_until="load")
    page.wait_for_function("() => window.__chartState.newsMarkers.length > 0", timeout=WAIT_MS)
    state = chart_state(page)
    news = httpx.get(
        live_api.url + "/udf/marks",
        params={"symbol": "VCB", "resolution": "D", "from": 0, "to": 2_000_000_000},
        headers={"X-API-Key": KEY},
        timeout=30,
    ).json()
    assert [m["id"] for m in state["news"]] == [m["id"] for m in news] and len(news) == 13
    # The seed's 13 VCB articles were all published on Vietnam's 13 February: one marker under that bar.
    assert state["newsMarkers"] == [
        {"id": "news:" + news[0]["id"], "time": news[0]["time"], "text": "N×13", "color": "purple"}
    ]
    assert news[0]["time"] * 1000 == state["times"][-1]
    page.mouse.move(0, 0)
    purple = page.evaluate(_COLOUR_PIXELS_JS, PURPLE)
    assert purple > 20, f"the news marker is not drawn ({purple} purple pixels)"
    assert watch.page_errors == [] and watch.console_errors == []


def test_a_bar_written_to_the_database_appears_on_the_open_chart_within_two_seconds(
    page: Page, live_api: LiveApi, api_db: ApiDatabase
) -> None:
    _, chart_url = issue_token(live_api)
    watch = PageWatch(page)
    page.goto(live_api.url + chart_url, wait_until="load")
    page.wait_for_function(
        "() => window.__chartState.pagesLoaded >= 1 && window.__chartState.live.connected", timeout=WAIT_MS
    )
    # On connecting, the stream replays the newest loaded bar (its Last-Event-ID) and anything newer.
    page.wait_for_function("() => window.__chartState.live.bars >= 1", timeout=WAIT_MS)
    before = chart_state(page)
    assert before["live"]["last"]["ts"] == before["times"][-1] == max(api_db.daily_ts)

    ts = daily_bar_ts(date(2026, 3, 2))
    conn = psycopg2.connect(api_db.admin_dsn)
    try:
        for close in (70.5, 71.25):
            with conn, conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
                    "VALUES ('VCB', '1d', %s, 70, 72, 69, %s, 4321, 'vci') "
                    "ON CONFLICT (ticker, tf, ts) DO UPDATE SET c = excluded.c",
                    (ts, close),
                )
            written = time.monotonic()
            page.wait_for_function(
                f"() => (window.__chartState.live.last || {{}}).ts === {ts} "
                f"&& window.__chartState.live.last.c === {close}",
                timeout=2_000,
            )
            assert time.monotonic() - written < 2.0
        state = chart_state(page)
        assert state["times"][-1] == ts and len(state["times"]) == len(before["times"]) + 1, "appended, then revised"
        assert state["live"]["last"] == {"ts": ts, "o": 70, "h": 72, "l": 69, "c": 71.25, "v": 4321}
        assert state["errors"] == [] and watch.page_errors == [] and watch.console_errors == []
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM candles_1d WHERE ticker = 'VCB' AND ts = %s", (ts,))
        conn.close()
