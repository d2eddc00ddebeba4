"""The simulator's HTTP server: VCI, SSI and VNDirect wire formats, fault injection and a control API.

VCI and SSI serve the adjusted series (as of the simulator's today), VNDirect dchart the raw one,
finfo both (finfo.py).  Control routes: ``/_sim/faults`` (faults.py), ``/_sim/requests``,
``/_sim/stats`` and ``/_sim/corporate-actions`` (actions.py documents its JSON).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import numpy as np
import numpy.typing as npt

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.simulator import finfo
from vietmarket_pipelines.simulator.actions import CorporateAction
from vietmarket_pipelines.simulator.faults import PAYLOAD_FAULTS, FaultBook, FaultRule
from vietmarket_pipelines.simulator.market import CalendarOverrides, SimulatedMarket, View
from vietmarket_pipelines.simulator.news import CHANNELS, SimulatedNews

log = logging.getLogger(__name__)
VCI_TIME_FRAMES = {"ONE_DAY": "day", "ONE_HOUR": "hour", "ONE_MINUTE": "minute"}
UDF_RESOLUTIONS = {"1D": "day", "D": "day", "60": "hour", "15": "minute15", "1": "minute"}


class Simulator:
    """The market, the fault book and request counters, shared by every handler thread."""

    def __init__(self, market: SimulatedMarket, faults: FaultBook | None = None) -> None:
        self.market = market
        self.news = SimulatedNews(market)
        self.faults = faults or FaultBook()
        self.requests: Counter[str] = Counter()
        # The last requests, for tests and for a person watching what the platform asks.
        self.recent: deque[dict[str, Any]] = deque(maxlen=2000)
        self.lock = threading.Lock()
        self._starts_cache: tuple[date, npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    def count(self, route: str, detail: dict[str, Any] | None = None) -> None:
        with self.lock:
            self.requests[route] += 1
            self.recent.append({"route": route, **(detail or {})})

    # ------------------------------------------------------------------ bars
    def today(self) -> date:
        return self.market.now().astimezone(VN_TZ).date()

    def _session_starts(self, today: date, days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """00:00 ICT (unix seconds) of each session ordinal in `days`.

        Converted once per day for the whole calendar and looked up: converting a series' few
        thousand dates on every request cost ~10 ms a ticker, most of a batched request, and a
        real provider's CPU does not compete with the platform's run workers.
        """
        with self.lock:
            cached = self._starts_cache
            if cached is None or cached[0] != today:
                ordinals = self.market.session_ordinals(today)
                starts = np.array([_vn_midnight(int(o)) for o in ordinals], dtype=np.int64)
                cached = self._starts_cache = (today, ordinals, starts)
        _, ordinals, starts = cached
        idx = np.searchsorted(ordinals, days)
        if len(days) and (idx.max() >= len(ordinals) or not np.array_equal(ordinals[idx], days)):
            return np.array([_vn_midnight(int(d)) for d in days], dtype=np.int64)
        return starts[idx]

    def last_open_day(self, today: date) -> int:
        """The ordinal of the last session that has opened (a session's bars exist from 09:00 ICT), or 0."""
        ordinals = self.market.session_ordinals(today)
        starts = self._session_starts(today, ordinals)
        opened = int(np.searchsorted(starts + 9 * 3600, int(self.market.now().timestamp()), "right"))
        return int(ordinals[opened - 1]) if opened else 0

    def bars(  # noqa: PLR0913 - the request's window, plus which series
        self, symbol: str, kind: str, start_s: int | None, end_s: int, count_back: int | None, view: View = "adjusted"
    ) -> dict[str, list[Any]]:
        """Bars of one symbol with start <= t <= end (or the last count_back before end); prices in
        thousands of VND or points; t in unix seconds (1d: 00:00 ICT of the date, as VCI sends)."""
        if symbol not in self.market.tickers:
            return {k: [] for k in "tohlcv"}
        now_s = int(self.market.now().timestamp())
        end_s = min(end_s, now_s)
        today = self.today()
        daily = self.market.daily(symbol, today, view)
        days = np.asarray(daily["day"])
        day_start = self._session_starts(today, days)
        # A session's bars exist once it has opened.
        open_mask = day_start + 9 * 3600 <= now_s
        if kind == "day":
            mask = open_mask & (day_start <= end_s)
            if start_s is not None:
                mask &= day_start + 86400 > start_s
            idx = np.flatnonzero(mask)
            if count_back is not None:
                idx = idx[-count_back:]
            cols = {"t": day_start[idx], **{k: np.asarray(daily[k])[idx] for k in "ohlcv"}}
        else:
            minutes = self.market.session_minutes(symbol)
            per_day = {"hour": 5, "minute15": len(np.unique(minutes // 15)), "minute": len(minutes)}[kind]
            first_day = start_s - 86400 if start_s is not None else None
            eligible = np.flatnonzero(
                open_mask & (day_start <= end_s) & ((day_start >= first_day) if first_day is not None else True)
            )
            if count_back is not None:
                eligible = eligible[-(count_back // per_day + 2) :]
            sessions = [date.fromordinal(int(days[i])) for i in eligible]
            if kind == "hour":
                raw = self.market.hourly(symbol, sessions, today, view)
            else:
                raw = self.market.minutes(symbol, sessions, today, view)
                if kind == "minute15":
                    raw = _to_15m(raw)
            t = np.asarray(raw["t"])
            mask = t <= end_s
            if start_s is not None:
                mask &= t >= start_s
            idx = np.flatnonzero(mask)
            if count_back is not None:
                idx = idx[-count_back:]
            cols = {"t": t[idx], **{k: np.asarray(raw[k])[idx] for k in "ohlcv"}}
        return {k: v.tolist() for k, v in cols.items()}


def _vn_midnight(ordinal: int) -> int:
    return int(datetime.combine(date.fromordinal(ordinal), datetime.min.time(), tzinfo=VN_TZ).timestamp())


def _to_15m(raw: dict[str, Any]) -> dict[str, Any]:
    t = np.asarray(raw["t"])
    if not len(t):
        return raw
    bins = t - (t % 900)
    keys, starts = np.unique(bins, return_index=True)
    ends = np.append(starts[1:], len(t))
    out: dict[str, Any] = {"t": keys}
    out["o"] = np.asarray(raw["o"])[starts]
    out["c"] = np.asarray(raw["c"])[ends - 1]
    out["h"] = np.maximum.reduceat(np.asarray(raw["h"]), starts)
    out["l"] = np.minimum.reduceat(np.asarray(raw["l"]), starts)
    out["v"] = np.add.reduceat(np.asarray(raw["v"]), starts)
    return out


Arrays = dict[str, list[Any]]


def _unequal(b: Arrays, last: int) -> None:
    b["c"] = b["c"][:-1]


def _nan(b: Arrays, last: int) -> None:
    b["c"][last] = math.nan


def _non_numeric(b: Arrays, last: int) -> None:
    b["o"][last] = "n/a"


def _duplicates(b: Arrays, last: int) -> None:
    for k in b:
        b[k].append(b[k][last])


def _out_of_order(b: Arrays, last: int) -> None:
    if last >= 1:
        for k in b:
            b[k][last], b[k][last - 1] = b[k][last - 1], b[k][last]


def _h_lt_l(b: Arrays, last: int) -> None:
    b["h"][last], b["l"][last] = b["l"][last] - 1, b["h"][last] + 1


def _outside_range(b: Arrays, last: int) -> None:
    b["c"][last] = b["h"][last] * 1.5


def _negative_volume(b: Arrays, last: int) -> None:
    b["v"][last] = -100


def _future(b: Arrays, last: int) -> None:
    # A bar a month past the real clock, whatever the simulated one says.
    _duplicates(b, last)
    b["t"][-1] = int(time.time()) + 30 * 86400 - int(time.time()) % 86400


def _raw_vnd(b: Arrays, last: int) -> None:
    for k in "ohlc":
        b[k] = [x * 1000 for x in b[k]]


def _revised(b: Arrays, last: int) -> None:
    b["c"][last] = b["h"][last] if b["c"][last] != b["h"][last] else b["l"][last]
    b["v"][last] += 100


# Each breaks the arrays in place, given the last bar's index; the routes apply the other payload faults.
_BREAKERS: dict[str, Callable[[Arrays, int], None]] = {
    "unequal": _unequal,
    "nan": _nan,
    "non_numeric": _non_numeric,
    "duplicates": _duplicates,
    "out_of_order": _out_of_order,
    "h_lt_l": _h_lt_l,
    "outside_range": _outside_range,
    "negative_volume": _negative_volume,
    "future": _future,
    "raw_vnd": _raw_vnd,
    "revised": _revised,
}


def break_payload(fault: str, bars: Arrays, symbol: str) -> Arrays:
    """Applies a payload fault to one symbol's arrays, the way a broken source would send them."""
    b = {k: list(v) for k, v in bars.items()}
    breaker = _BREAKERS.get(fault)
    if b["t"] and breaker is not None:
        breaker(b, len(b["t"]) - 1)
    return b


def encode(payload: Any, bare_nan: bool = False) -> bytes:
    # NaN is not JSON, but broken sources send it as a bare literal (the "nan" fault); msgspec
    # would quietly write null instead, so that one case goes through the json module.
    if bare_nan:
        return json.dumps(payload).encode()
    return msgspec.json.encode(payload)


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms for
    # the delayed ACK before it sees the body, on every request.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # ------------------------------------------------------------ plumbing
    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, payload: Any, status: int = 200, bare_nan: bool = False) -> None:
        self.send_body(status, encode(payload, bare_nan))

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"null")

    def transport_fault(self, route: str, symbols: list[str], query: dict[str, list[str]]) -> FaultRule | None:
        """Serves a transport fault if one applies; returns a payload fault rule for the caller."""
        sim = self.server.simulator
        forced = query.get("sim_fault", [None])[0]
        rule = FaultRule(route, forced) if forced else sim.faults.take(route, symbols)
        if rule is None:
            return None
        if rule.fault in PAYLOAD_FAULTS:
            return rule
        if rule.fault == "timeout":
            time.sleep(rule.delay)
            self.send_json({"error": "late"}, 504)
        elif rule.fault == "429":
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            self.send_body(429, encode({"message": "Too Many Requests"}), headers=headers)
        elif rule.fault == "rate_limit_text":
            self.send_json({"status": 429, "message": "Bạn đã vượt quá GIỚI HẠN API, vui lòng thử lại sau"})
        elif rule.fault == "truncated":
            payload = encode([{"symbol": s, "t": [1, 2, 3], "o": [1, 2, 3]} for s in symbols] or {"data": [1, 2]})
            self.send_body(200, payload[: len(payload) // 2])
        else:
            self.send_json({"error": f"simulated {rule.fault}"}, int(rule.fault))
        raise _Answered

    # ------------------------------------------------------------ routes
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        routes = {
            ("POST", "/api/chart/OHLCChart/gap-chart"): self.vci_history,
            ("GET", "/api/price/symbols/getAll"): self.vci_listing,
            ("GET", "/statistics/charts/history"): self.ssi_history,
            ("GET", "/dchart/history"): self.vnd_history,
            ("GET", "/v4/stocks"): self.vnd_listing,
            ("GET", "/_sim/health"): lambda q: self.send_json({"ok": True}),
            ("GET", "/_sim/stats"): lambda q: self.send_json(dict(self.server.simulator.requests)),
            ("GET", "/_sim/requests"): lambda q: self.send_json(list(self.server.simulator.recent)),
            ("DELETE", "/_sim/requests"): self.clear_requests,
            ("GET", "/v4/stock_prices"): lambda q: self.finfo_prices(q, index=False),
            ("GET", "/v4/vnmarket_prices"): lambda q: self.finfo_prices(q, index=True),
            ("GET", "/_sim/corporate-actions"): self.list_actions,
            ("POST", "/_sim/corporate-actions"): self.add_actions,
            ("DELETE", "/_sim/corporate-actions"): self.clear_actions,
            ("POST", "/_sim/faults"): self.add_faults,
            ("DELETE", "/_sim/faults"): self.clear_faults,
        }
        handler = routes.get((method, url.path)) or self.vietstock_route(method, url.path)
        try:
            if handler is None:
                self.send_json({"error": f"no route {method} {url.path}"}, 404)
                return
            handler(query)
        except _Answered:
            pass
        except (ValueError, KeyError, TypeError) as exc:
            self.send_json({"error": f"bad request: {exc}"}, 400)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ------------------------------------------------------------ Vietstock
    def vietstock_route(self, method: str, path: str) -> Any:
        if method != "GET":
            return None
        if path == "/rss":
            return lambda q: self.send_body(
                200, self.server.simulator.news.index_page(self.server.url), "text/html; charset=utf-8"
            )
        if path == "/StartPage/ChannelContentPage":
            return self.vietstock_listing
        if path.endswith(".rss"):
            return lambda q: self.vietstock_feed(path, q)
        if path.endswith(".htm"):
            return lambda q: self.vietstock_article(path, q)
        return None

    def vietstock_feed(self, path: str, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        sim.count("vietstock-rss", {"path": path})
        channel = int(path.strip("/").split("/")[0])
        if channel not in CHANNELS:
            self.send_json({"error": "no such feed"}, 404)
            return
        # A rule's "symbol" picks a feed by its channel id.
        rule = self.transport_fault("vietstock-rss", [str(channel)], query)
        body = sim.news.feed(channel, self.server.url)
        if rule is not None and rule.fault == "broken_xml":
            body = body[: len(body) // 2]
        self.send_body(200, body, "application/rss+xml; charset=utf-8")

    def vietstock_article(self, path: str, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        sim.count("vietstock-article", {"path": path})
        try:
            article_id: int | None = int(path.rsplit("-", 1)[-1].removesuffix(".htm"))
        except ValueError:
            article_id = None
        # A rule's "symbol" picks an article by its id.
        rule = self.transport_fault("vietstock-article", [str(article_id)], query)
        article = sim.news.by_id(article_id) if article_id is not None else None
        if article is None:
            self.send_body(404, b"<html><body>Not found</body></html>", "text/html; charset=utf-8")
            return
        # Some real pages lack the meta tags; the fault "no_meta" reproduces that.
        with_meta = rule is None or rule.fault != "no_meta"
        self.send_body(200, sim.news.article_page(article, with_meta=with_meta), "text/html; charset=utf-8")

    def vietstock_listing(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        sim.count("vietstock-listing", {"query": {k: v[0] for k, v in query.items()}})
        channel, page = int(query["channelID"][0]), int(query.get("page", ["1"])[0])
        self.transport_fault("vietstock-listing", [str(channel)], query)
        self.send_body(200, sim.news.listing_page(channel, page, self.server.url), "text/html; charset=utf-8")

    def add_faults(self, query: dict[str, list[str]]) -> None:
        raw = self.read_json()
        for item in raw if isinstance(raw, list) else [raw]:
            self.server.simulator.faults.add(FaultRule.parse(item))
        self.send_json({"ok": True, "rules": len(self.server.simulator.faults.rules)})

    def clear_requests(self, query: dict[str, list[str]]) -> None:
        with self.server.simulator.lock:
            self.server.simulator.recent.clear()
            self.server.simulator.requests.clear()
        self.send_json({"ok": True})

    def clear_faults(self, query: dict[str, list[str]]) -> None:
        self.server.simulator.faults.clear()
        self.send_json({"ok": True})

    def vci_history(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        body = self.read_json()
        sim.count("vci-history", {"body": body})
        symbols = [str(s) for s in body["symbols"]]
        kind = VCI_TIME_FRAMES[body["timeFrame"]]
        to, count_back = int(body["to"]), int(body["countBack"])
        rule = self.transport_fault("vci-history", symbols, query)
        out = []
        for symbol in symbols:
            bars = sim.bars(symbol, kind, None, to, count_back)
            ticker = sim.market.tickers.get(symbol)
            if ticker is not None and ticker.kind != "INDEX":
                # VCI sends stock prices in whole VND.
                for k in "ohlc":
                    bars[k] = [round(x * 1000) for x in bars[k]]
            if rule is not None and (rule.symbol in (None, symbol)):
                bars = break_payload(rule.fault, bars, symbol)
            element: dict[str, Any] = {"symbol": symbol, **bars}
            element["accumulatedVolume"] = bars["v"]
            if rule is not None and rule.fault == "wrong_symbol" and rule.symbol in (None, symbol):
                element["symbol"] = "XXX" if symbol != "XXX" else "YYY"
            out.append(element)
        self.send_json(out, bare_nan=rule is not None and rule.fault == "nan")

    def vci_listing(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        sim.count("vci-listing")
        self.transport_fault("vci-listing", [], query)
        rows = []
        for i, t in enumerate(sim.market.tickers.values()):
            if t.kind == "INDEX":
                continue
            rows.append(
                {
                    "id": i + 1, "symbol": t.symbol, "type": t.kind, "board": t.board, "organName": t.name,
                    "enOrganName": None, "organShortName": t.name.split(" ", 4)[-1], "enOrganShortName": None,
                    "productGrpID": "STO" if t.kind == "STOCK" else t.kind,
                }
            )  # fmt: skip
        self.send_json(rows)

    def udf_bars(
        self, route: str, query: dict[str, list[str]], view: View
    ) -> tuple[str, dict[str, list[Any]], FaultRule | None]:
        sim = self.server.simulator
        sim.count(route, {"query": {k: v[0] for k, v in query.items()}})
        symbol = query["symbol"][0]
        rule = self.transport_fault(route, [symbol], query)
        kind = UDF_RESOLUTIONS[query["resolution"][0]]
        start_s, end_s = int(query["from"][0]), int(query["to"][0])
        bars = sim.bars(symbol, kind, start_s, end_s, None, view)
        if kind == "day":
            # SSI and VNDirect stamp a daily bar at 00:00 UTC of its trading date.
            bars["t"] = [t + 7 * 3600 for t in bars["t"]]
        if rule is not None:
            bars = break_payload(rule.fault, bars, symbol)
        return symbol, bars, rule

    def ssi_history(self, query: dict[str, list[str]]) -> None:
        _, bars, rule = self.udf_bars("ssi-history", query, "adjusted")
        data: dict[str, Any] = {**bars, "s": "ok" if bars["t"] else "no_data"}
        nan = rule is not None and rule.fault == "nan"
        self.send_json({"code": "SUCCESS", "message": "Success", "data": data}, bare_nan=nan)

    def vnd_history(self, query: dict[str, list[str]]) -> None:
        _, bars, rule = self.udf_bars("vnd-history", query, "raw")
        nan = rule is not None and rule.fault == "nan"
        self.send_json({"s": "ok", **bars} if bars["t"] else {"s": "no_data"}, bare_nan=nan)

    # ------------------------------------------------------------ finfo
    def finfo_prices(self, query: dict[str, list[str]], index: bool) -> None:
        sim = self.server.simulator
        route = "finfo-index-prices" if index else "finfo-prices"
        sim.count(route, {"query": {k: v[0] for k, v in query.items()}})
        q = finfo.FinfoQuery.parse(query)
        rule = self.transport_fault(route, list(q.codes), query)
        today = sim.today()
        payload = finfo.envelope(finfo.rows(sim.market, q, today, sim.last_open_day(today), index), q)
        if rule is not None:
            finfo.break_page(rule.fault, payload)
        self.send_json(payload)

    # ------------------------------------------------------------ corporate actions
    def list_actions(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        symbol = query.get("symbol", [None])[0]
        if symbol is None:
            self.send_json({"added": [a.to_json() for a in sim.market.actions.all()]})
            return
        if symbol not in sim.market.tickers:
            raise ValueError(f"unknown symbol {symbol!r}")
        self.send_json({"symbol": symbol, "actions": sim.market.actions_in_effect(symbol, sim.today())})

    def add_actions(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        raw = self.read_json()
        parsed = [CorporateAction.parse(item, sim.today()) for item in (raw if isinstance(raw, list) else [raw])]
        for action in parsed:
            ticker = sim.market.tickers.get(action.symbol)
            if ticker is None or ticker.kind != "STOCK":
                raise ValueError(f"{action.symbol!r} is not a listed stock")
        for action in parsed:
            sim.market.actions.add(action)
        self.send_json({"ok": True, "actions": [a.to_json() for a in parsed]})

    def clear_actions(self, query: dict[str, list[str]]) -> None:
        dropped = self.server.simulator.market.actions.clear(query.get("symbol", [None])[0])
        self.send_json({"ok": True, "dropped": dropped})

    def vnd_listing(self, query: dict[str, list[str]]) -> None:
        sim = self.server.simulator
        sim.count("vnd-listing")
        self.transport_fault("vnd-listing", [], query)
        size = int(query.get("size", ["20"])[0])
        page = int(query.get("page", ["1"])[0])
        stocks = [{"code": t.symbol, "companyName": t.name, "floor": t.exchange} for t in sim.market.listed_stocks()]
        chunk = stocks[(page - 1) * size : page * size]
        total_pages = max(1, -(-len(stocks) // size))
        self.send_json(
            {
                "data": chunk,
                "currentPage": page,
                "size": size,
                "totalElements": len(stocks),
                "totalPages": total_pages,
            }
        )


class _Answered(Exception):
    """A fault already answered the request."""


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, Handler)
        self.simulator = simulator

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_in_thread(  # noqa: PLR0913 - where it listens, and the market it serves
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 7,
    now: datetime | None = None,
    faults: list[dict[str, Any]] | None = None,
    calendar_overrides: CalendarOverrides | None = None,
) -> SimulatorServer:
    """Starts a simulator in a daemon thread; `server.shutdown()` stops it."""
    book = FaultBook()
    for raw in faults or []:
        book.add(FaultRule.parse(raw))
    market = SimulatedMarket(seed, now, calendar_overrides=calendar_overrides)
    server = SimulatorServer((host, port), Simulator(market, book))
    threading.Thread(target=server.serve_forever, name="simulator", daemon=True).start()
    return server
