"""How provider requests are spaced: per process (pyrate_limiter), or one budget shared by every
process that calls the provider, kept in PostgreSQL."""

from __future__ import annotations

import logging
import time
from typing import Protocol

import psycopg2
import psycopg2.extensions
from pyrate_limiter import Limiter, Rate

log = logging.getLogger(__name__)

# Reserves the caller's send time in one statement: the row lock orders concurrent callers, and
# each leaves the next free slot one interval after its own.  The database clock is the only
# clock involved, so run workers on different hosts agree without synchronized clocks.
RESERVE_SLOT = """
INSERT INTO provider_pacing AS p (provider, next_at)
VALUES (%(provider)s, clock_timestamp() + make_interval(secs => %(interval)s))
ON CONFLICT (provider) DO UPDATE
   SET next_at = greatest(p.next_at, clock_timestamp()) + make_interval(secs => %(interval)s)
RETURNING extract(epoch FROM p.next_at - clock_timestamp())::float8 - %(interval)s
"""


class Pacer(Protocol):
    def acquire(self, provider: str) -> None:
        """Blocks until `provider` may be sent one more request."""
        ...

    def close(self) -> None: ...


class LocalPacer:
    """At most `requests` per `per_seconds` from this process (bursts allowed up to `requests`)."""

    def __init__(self, requests: int, per_seconds: float) -> None:
        self._limiter = Limiter(Rate(requests, int(per_seconds * 1000)))

    def acquire(self, provider: str) -> None:
        self._limiter.try_acquire(provider, blocking=True)

    def close(self) -> None:
        pass


class SharedPacer:
    """One budget per provider across every process and host that uses the same database.

    Requests are spaced evenly, one every `per_seconds / requests` seconds, so no window of
    `per_seconds` ever holds more than `requests` of them however many run workers are asking.
    """

    def __init__(self, dsn: str, requests: int, per_seconds: float, *, connect_timeout_s: int = 10) -> None:
        if requests <= 0 or per_seconds <= 0:
            raise ValueError(f"a pacing budget needs positive requests and seconds, not {requests}/{per_seconds}")
        self.dsn = dsn
        self.interval_s = per_seconds / requests
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg2.extensions.connection | None = None

    def _reserve(self, provider: str) -> float:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(
                self.dsn, connect_timeout=self.connect_timeout_s, application_name="vietmarket-pacing"
            )
            self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute(RESERVE_SLOT, {"provider": provider, "interval": self.interval_s})
            row = cur.fetchone()
        return float(row[0]) if row else 0.0

    def acquire(self, provider: str) -> None:
        try:
            wait = self._reserve(provider)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # One reconnect: a pacing connection idle through a database restart is simply stale.
            self.close()
            wait = self._reserve(provider)
        if wait > 0:
            time.sleep(wait)

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
