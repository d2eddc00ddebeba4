"""A local stand-in for a Convex deployment running deploy/convex's functions, over Convex's HTTP API.

It speaks the wire format (`POST /api/mutation|query` with `{"path","args","format"}`, the
`{"status":"success","value"}` / `{"status":"error","errorMessage"}` envelopes, `Authorization:
Convex <deploy key>` for internal functions), validates arguments as the functions' validators do,
enforces Convex's per-call limits, and applies the same upsert-and-prune semantics in memory.
Switches under `/_convex/` make it throttle, fail, hang, or answer like a disabled deployment.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple

from vietmarket_core.market import TIMEFRAMES

MAX_ARRAY = 8192
MAX_WRITES = 16_000
INTERNAL = {"candles:upsertLatest", "articles:upsertLatest"}
DISABLED_MESSAGE = (
    "You have exceeded the free plan limits, so your deployments have been disabled. "
    "Please upgrade to a Pro plan or reach out to us at support@convex.dev for help."
)


class ArgumentError(ValueError):
    pass


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentError(f"{where}: expected a number, got {json.dumps(value)}")
    return float(value)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ArgumentError(f"{where}: expected a string, got {json.dumps(value)}")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ArgumentError(f"{where}: expected an array")
    if len(value) > MAX_ARRAY:
        raise ArgumentError(f"{where}: array has {len(value)} elements; the limit is {MAX_ARRAY}")
    return value


@dataclass
class ConvexState:
    deploy_key: str
    candles: dict[tuple[str, str], dict[int, dict[str, Any]]] = field(default_factory=dict)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    disabled: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ functions
    def upsert_candles(self, args: dict[str, Any]) -> dict[str, int]:
        keep = int(_number(args.get("keep"), "keep"))
        if not 1 <= keep <= 5000:
            raise ArgumentError("keep: must be 1..5000")
        totals = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        writes = 0
        for i, series in enumerate(_array(args.get("series"), "series")):
            ticker = _string(series.get("ticker"), f"series[{i}].ticker")
            tf = _string(series.get("tf"), f"series[{i}].tf")
            if tf not in TIMEFRAMES:
                raise ArgumentError(f"series[{i}].tf: {tf!r} is not one of {TIMEFRAMES}")
            stored = self.candles.setdefault((ticker, tf), {})
            for j, bar in enumerate(_array(series.get("bars"), f"series[{i}].bars")):
                where = f"series[{i}].bars[{j}]"
                ts = int(_number(bar.get("ts"), f"{where}.ts"))
                row: dict[str, Any] = {k: _number(bar.get(k), f"{where}.{k}") for k in ("o", "h", "l", "c")}
                row["ts"] = ts
                row["v"] = None if bar.get("v") is None else _number(bar.get("v"), f"{where}.v")
                row["source"] = None if bar.get("source") is None else _string(bar.get("source"), f"{where}.source")
                old = stored.get(ts)
                if old == row:
                    totals["unchanged"] += 1
                    continue
                totals["updated" if old else "inserted"] += 1
                stored[ts] = row
                writes += 1
            for ts in sorted(stored)[:-keep] if len(stored) > keep else []:
                del stored[ts]
                totals["deleted"] += 1
                writes += 1
        if writes > MAX_WRITES:
            raise ArgumentError(f"mutation wrote {writes} documents; the limit is {MAX_WRITES}")
        return totals

    def upsert_articles(self, args: dict[str, Any]) -> dict[str, int]:
        keep = int(_number(args.get("keep"), "keep"))
        totals = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        for i, a in enumerate(_array(args.get("articles"), "articles")):
            url = _string(a.get("url"), f"articles[{i}].url")
            row: dict[str, Any] = {
                "url": url,
                "title": _string(a.get("title"), f"articles[{i}].title"),
                "publishedAt": _number(a.get("publishedAt"), f"articles[{i}].publishedAt"),
                "source": _string(a.get("source"), f"articles[{i}].source"),
                "tickers": [_string(t, f"articles[{i}].tickers") for t in _array(a.get("tickers"), "tickers")],
            }
            old = self.articles.get(url)
            totals["unchanged" if old == row else "updated" if old else "inserted"] += 1
            self.articles[url] = row
        for url, _ in sorted(self.articles.items(), key=lambda kv: kv[1]["publishedAt"], reverse=True)[keep:]:
            del self.articles[url]
            totals["deleted"] += 1
        return totals

    def latest_candles(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        ticker, tf = _string(args.get("ticker"), "ticker"), _string(args.get("tf"), "tf")
        limit = int(_number(args.get("limit", 500), "limit"))
        before = args.get("beforeTs")
        rows = self.candles.get((ticker, tf), {})
        keys = sorted((ts for ts in rows if before is None or ts < before), reverse=True)[:limit]
        return [rows[ts] for ts in keys]

    def run(self, path: str, args: dict[str, Any]) -> Any:
        functions = {
            "candles:upsertLatest": self.upsert_candles,
            "articles:upsertLatest": self.upsert_articles,
            "candles:latest": self.latest_candles,
            "candles:before": self.latest_candles,
        }
        if path not in functions:
            raise LookupError(f"Could not find public function for '{path}'. Did you forget to run `npx convex dev`?")
        return functions[path](args)

    def take_fault(self) -> dict[str, Any] | None:
        """The first armed fault, one use spent; the caller holds the lock."""
        fault = next((f for f in self.faults if f.get("times", -1) != 0), None)
        if fault is not None and fault.get("times", -1) > 0:
            fault["times"] -= 1
        return fault


class Reply(NamedTuple):
    status: int
    payload: Any
    headers: dict[str, str] | None = None


FAULT_REPLIES = {
    "429": Reply(429, {"code": "TooManyRequests", "message": "rate limited"}, {"Retry-After": "1"}),
    "error": Reply(200, {"status": "error", "errorMessage": "Uncaught Error: simulated function failure"}),
}


def fault_reply(fault: dict[str, Any]) -> Reply:
    kind = fault["fault"]
    if kind == "timeout":
        time.sleep(float(fault.get("delay", 30)))
        return Reply(504, {"code": "Timeout", "message": "late"})
    return FAULT_REPLIES.get(kind) or Reply(int(kind), {"code": "InternalServerError", "message": "simulated"})


def malformed(request: Any) -> Reply | None:
    if not isinstance(request, dict) or not isinstance(request.get("path"), str):
        return Reply(400, {"code": "BadRequest", "message": "body needs a string `path`"})
    if request.get("format", "json") != "json" or not isinstance(request.get("args", {}), dict):
        return Reply(400, {"code": "BadRequest", "message": "`format` must be json and `args` an object"})
    return None


def unauthorized(path: str, auth: str | None, deploy_key: str) -> Reply | None:
    """Internal functions need the deploy key; without any Convex key they do not even exist."""
    if path not in INTERNAL or auth == f"Convex {deploy_key}":
        return None
    if auth is not None and auth.startswith("Convex "):
        return Reply(401, {"code": "BadDeployKey", "message": "The provided deploy key was invalid"})
    return Reply(400, {"status": "error", "errorMessage": f"Could not find public function for '{path}'."})


def wrong_endpoint(path: str, endpoint: str) -> Reply | None:
    expected = "/api/mutation" if path.endswith("upsertLatest") else "/api/query"
    if endpoint == expected:
        return None
    return Reply(400, {"status": "error", "errorMessage": f"'{path}' is not a {endpoint.rsplit('/', 1)[-1]}"})


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms for
    # the delayed ACK before it sees the body, on every request.
    disable_nagle_algorithm = True
    server: ConvexStandIn

    def log_message(self, format: str, *args: Any) -> None:
        return

    def answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/_convex/requests":
            with state.lock:
                self.answer(200, list(state.requests))
        elif self.path == "/_convex/state":
            with state.lock:
                self.answer(
                    200,
                    {
                        "candles": {f"{t}:{tf}": sorted(rows) for (t, tf), rows in state.candles.items()},
                        "articles": sorted(state.articles),
                    },
                )
        else:
            self.answer(404, {"error": "no such route"})

    def do_DELETE(self) -> None:
        if self.path == "/_convex":
            state = self.server.state
            with state.lock:
                state.candles.clear()
                state.articles.clear()
                state.faults.clear()
                state.requests.clear()
                state.disabled = False
            self.answer(200, {"ok": True})
        else:
            self.answer(404, {"error": "no such route"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = self.POST_ROUTES.get(self.path)
        if route is None:
            self.answer(404, {"code": "NotFound", "message": f"no route {self.path}"})
            return
        self.answer(*route(self, raw))

    def add_fault(self, raw: bytes) -> Reply:
        state = self.server.state
        with state.lock:
            state.faults.append(json.loads(raw))
        return Reply(200, {"ok": True})

    def set_disabled(self, raw: bytes) -> Reply:
        state = self.server.state
        with state.lock:
            state.disabled = bool(json.loads(raw or b"true"))
        return Reply(200, {"ok": True})

    def call_function(self, raw: bytes) -> Reply:
        """`POST /api/mutation|query`: recorded, then refused, faulted or run, in the order Convex would."""
        try:
            request = json.loads(raw)
        except ValueError:
            return Reply(400, {"code": "BadJsonBody", "message": "request body is not JSON"})
        state = self.server.state
        auth = self.headers.get("Authorization")
        with state.lock:
            self.record(request, auth)
            if state.disabled:
                return Reply(400, {"code": "DeploymentDisabled", "message": DISABLED_MESSAGE})
            fault = state.take_fault()
        if fault is not None:
            return fault_reply(fault)
        refused = (
            malformed(request)
            or unauthorized(request["path"], auth, state.deploy_key)
            or wrong_endpoint(request["path"], self.path)
        )
        if refused is not None:
            return refused
        try:
            with state.lock:
                value = state.run(request["path"], request.get("args", {}))
        except (ArgumentError, LookupError) as exc:
            return Reply(400, {"status": "error", "errorMessage": f"ArgumentValidationError: {exc}"})
        return Reply(200, {"status": "success", "value": value, "logLines": []})

    def record(self, request: Any, auth: str | None) -> None:
        fields = request if isinstance(request, dict) else {}
        self.server.state.requests.append(
            {
                "endpoint": self.path,
                "path": fields.get("path"),
                "args": fields.get("args"),
                "format": fields.get("format"),
                "authorization": auth,
                "at": time.time(),
            }
        )

    POST_ROUTES: ClassVar[dict[str, Callable[[Handler, bytes], Reply]]] = {
        "/_convex/faults": add_fault,
        "/_convex/disable": set_disabled,
        "/api/mutation": call_function,
        "/api/query": call_function,
    }


class ConvexStandIn(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], deploy_key: str) -> None:
        super().__init__(address, Handler)
        self.state = ConvexState(deploy_key)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_convex_in_thread(deploy_key: str, host: str = "127.0.0.1", port: int = 0) -> ConvexStandIn:
    server = ConvexStandIn((host, port), deploy_key)
    threading.Thread(target=server.serve_forever, name="convex-stand-in", daemon=True).start()
    return server
