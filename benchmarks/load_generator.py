"""A small HTTP/1.1 load generator: open loop on a clock (no coordinated omission), or closed loop, with stage timings.

Open loop: requests are due at Poisson arrival times for a fixed offered rate, and each one's latency
counts from when it was due, not from when a connection was free to send it, so a stalled server
shows up as latency instead of as requests quietly not sent (the flaw wrk's closed loop has at a
fixed rate).  Closed loop: `connections` callers back to back, as wrk does, for diagnosis.
Every request carries `X-Request-Start` and the server's `Server-Timing` answer is kept, so a slow
request can be taken apart into its stages (history_api/timing.py).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import uvloop


@dataclass(frozen=True)
class Sample:
    due_s: float
    sent_s: float
    done_s: float
    status: int
    stages: dict[str, float]
    worker: str

    @property
    def latency_ms(self) -> float:
        return (self.done_s - self.due_s) * 1000


@dataclass
class LoadRun:
    label: str
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def latencies(self) -> list[float]:
        return sorted(s.latency_ms for s in self.samples)

    def quantile(self, q: float) -> float:
        ordered = self.latencies()
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    @property
    def requests_per_s(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


def _parse_server_timing(value: str) -> tuple[dict[str, float], str]:
    stages: dict[str, float] = {}
    worker = ""
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            stages[name] = float(rest[4:])
        elif rest.startswith("desc="):
            worker = rest[5:].strip('"')
    return stages, worker


class _Connection:
    """One keep-alive connection: write a request, read exactly one response (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        assert self.reader is not None
        stamp = f"X-Request-Start: t={time.time_ns() // 1000}\r\n\r\n".encode()
        self.writer.write(raw + stamp)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        timing = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "server-timing":
                timing = value.strip()
        await self.reader.readexactly(length)
        return status, timing

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# `next_path()` gives the next request's path and query; the generator adds the headers.
PathSource = Callable[[], str]


def _request_bytes(path: str, host: str, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    # The head is left open: each send appends X-Request-Start and the blank line.
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}".encode()


async def _timed(conn: _Connection, raw: bytes, due: float, run: LoadRun) -> None:
    sent = time.perf_counter()
    try:
        status, timing = await conn.request(raw)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        conn.close()
        run.errors += 1
        return
    done = time.perf_counter()
    stages, worker = _parse_server_timing(timing)
    if status != 200:
        run.errors += 1
    run.samples.append(Sample(due, sent, done, status, stages, worker))


def open_loop(  # noqa: PLR0913
    host: str,
    port: int,
    next_path: PathSource,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    max_connections: int = 256,
) -> LoadRun:
    """Requests due at Poisson arrivals of `rate` a second for `seconds`, over at most `max_connections`."""
    run = LoadRun(f"open loop {rate:.0f}/s", seconds)

    async def generate() -> None:
        idle: asyncio.Queue[_Connection] = asyncio.Queue()
        for _ in range(max_connections):
            idle.put_nowait(_Connection(host, port))
        pending: set[asyncio.Task[None]] = set()
        rng = random.Random(7)  # arrival times, not secrets
        start = time.perf_counter()
        due = start

        async def one(due_s: float, raw: bytes) -> None:
            # Waiting for a free connection counts: the latency runs from when the request was due.
            conn = await idle.get()
            try:
                await _timed(conn, raw, due_s, run)
            finally:
                idle.put_nowait(conn)

        while due < start + seconds:
            due += rng.expovariate(rate)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(due, _request_bytes(next_path(), host, headers)))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)
        while not idle.empty():
            idle.get_nowait().close()

    uvloop.run(generate())
    return run


def closed_loop(  # noqa: PLR0913
    host: str, port: int, next_path: PathSource, headers: dict[str, str], connections: int, seconds: float
) -> LoadRun:
    """`connections` callers, each sending its next request as soon as the last is answered, for `seconds`."""
    run = LoadRun(f"closed loop {connections} conns", seconds)
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        conn = _Connection(host, port)
        while time.perf_counter() < deadline:
            await _timed(conn, _request_bytes(next_path(), host, headers), time.perf_counter(), run)
        conn.close()

    async def generate() -> None:
        await asyncio.gather(*(caller() for _ in range(connections)))

    uvloop.run(generate())
    return run


def stage_breakdown(run: LoadRun) -> list[str]:
    """Where the median request and the slowest 1 % spent their time, stage by stage, and the per-worker load."""
    ordered = sorted(run.samples, key=lambda s: s.latency_ms)
    if not ordered:
        return ["no samples"]
    tail = ordered[int(len(ordered) * 0.99) :]
    names = sorted({k for s in ordered for k in s.stages})

    def row(label: str, group: list[Sample]) -> str:
        parts = [f"{label:<12} total {statistics.mean(s.latency_ms for s in group):8.2f}"]
        parts.append(f"wait {statistics.mean((s.sent_s - s.due_s) * 1000 for s in group):7.2f}")
        for name in names:
            parts.append(f"{name} {statistics.mean(s.stages.get(name, 0.0) for s in group):7.2f}")
        # gc pauses happen inside the other stages' wall time, so they are not added again.
        server = [sum(v for k, v in s.stages.items() if k in ("acquire", "query", "app")) for s in group]
        send = [
            s.latency_ms - (s.sent_s - s.due_s) * 1000 - s.stages.get("queue", 0.0) - sv
            for s, sv in zip(group, server, strict=True)
        ]
        parts.append(f"after-app {statistics.mean(send):7.2f}")
        return "  ".join(parts)

    middle = ordered[len(ordered) // 2 - len(ordered) // 100 : len(ordered) // 2 + len(ordered) // 100 + 1]
    lines = [row("median ±1%", middle), row("slowest 1%", tail)]
    by_worker = Counter(s.worker for s in ordered)
    tail_by_worker = Counter(s.worker for s in tail)
    lines.append(
        "requests by worker: "
        + ", ".join(f"{w or '?'}: {n} ({tail_by_worker.get(w, 0)} in the slowest 1%)" for w, n in by_worker.items())
    )
    return lines
