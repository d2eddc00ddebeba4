"""The service's worker processes: each listens on a socket of its own (SO_REUSEPORT), and dead ones are replaced.

Why not uvicorn's own --workers: its workers share one listening socket, and whichever is woken
first accepts, so keep-alive connections pile onto one worker.  Under wrk's 64 connections two
workers held 16 and 48, 29 and 35, 50 and 14 in three runs (`ss -tnp`), and the worker with three
times the connections gave three times the latency: the benchmark's p99 was that worker.  With a
socket per worker the kernel spreads connections over the sockets by a hash of their addresses.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from history_api.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# How often the supervisor looks for dead workers, and the pause before it replaces one, so a
# worker that dies on start (a port held by another program) does not spin.
CHECK_INTERVAL_S = 0.5
RESTART_DELAY_S = 1.0

ConfigFactory = Callable[[], uvicorn.Config]


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"history-api: {exc}", file=sys.stderr)
        sys.exit(2)


def uvicorn_config() -> uvicorn.Config:
    """One server's configuration; each worker process builds its own from the same environment."""
    settings = settings_or_exit()
    return uvicorn.Config(
        "history_api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
        log_level=settings.log_level.lower(),
    )


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _serve(config_factory: ConfigFactory, host: str, port: int) -> None:
    """One worker process: its own socket, one uvicorn server on it."""
    config = config_factory()
    try:
        sock = listening_socket(host, port, config.backlog)
    except OSError as exc:
        log.error("worker cannot listen on %s:%s: %s", host, port, exc)
        raise SystemExit(3) from exc
    uvicorn.Server(config).run(sockets=[sock])


class Workers:
    """Starts `count` workers, replaces any that dies, and stops them all on SIGTERM or SIGINT."""

    def __init__(self, config_factory: ConfigFactory, host: str, port: int, count: int) -> None:
        self._target = (config_factory, host, port)
        self._count = count
        self._stopping = False
        self._context = multiprocessing.get_context("spawn")

    def _start_one(self) -> BaseProcess:
        process = self._context.Process(target=_serve, args=self._target, name="history-api worker")
        process.start()
        return process

    def _stop(self, signum: int, _: FrameType | None) -> None:
        log.info("signal %s: stopping %d workers", signal.Signals(signum).name, self._count)
        self._stopping = True

    def run(self) -> int:
        # Binding once here turns "address in use" into one clear error instead of a restart loop.
        probe = listening_socket(*self._target[1:])
        probe.close()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        processes = [self._start_one() for _ in range(self._count)]
        while not self._stopping:
            time.sleep(CHECK_INTERVAL_S)
            for i, process in enumerate(processes):
                if not process.is_alive() and not self._stopping:
                    log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                    time.sleep(RESTART_DELAY_S)
                    processes[i] = self._start_one()
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        return 0
