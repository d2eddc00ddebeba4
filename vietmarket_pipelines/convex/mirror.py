"""Mirrors the latest slice of written series, and the newest articles, to Convex after Timescale commits.

Timescale is the canonical store; Convex only ever receives copies, and nothing here can fail or
roll back a canonical write.  A series is sent only when the fingerprint of its latest `keep` bars
changed since it was last mirrored, and then only its new and revised bars (by `ingested_at`);
Convex's `candles:upsertLatest` prunes each series to `keep` bars.  Every call is counted against a
per-day budget kept in the database and a per-run budget, so a loop or a backlog cannot exhaust the
plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg2.extensions

from vietmarket_core.market import Timeframe
from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.convex.client import ConvexClient, ConvexDisabled, ConvexError
from vietmarket_pipelines.timescale.candle_store import table_sql

log = logging.getLogger(__name__)
PACKAGE = __package__ or "vietmarket_pipelines.convex"
NEWS_SERIES = "articles:latest"

Connect = Callable[[], AbstractContextManager[psycopg2.extensions.connection]]


def mirror_sql(name: str) -> str:
    return load_sql(PACKAGE, name)


def series_key(ticker: str, tf: str) -> str:
    return f"candles:{ticker}:{tf}"


class MirrorSettings(Protocol):
    """What a mirror pass needs to know; the Dagster resource `ConvexMirrorResource` is one, and its
    fields hold the only defaults."""

    @property
    def url(self) -> str: ...
    @property
    def deploy_key(self) -> str: ...
    @property
    def keep_bars(self) -> int: ...
    @property
    def timeframes(self) -> Sequence[str]: ...
    @property
    def keep_articles(self) -> int: ...
    @property
    def max_bars_per_call(self) -> int: ...
    @property
    def max_calls_per_run(self) -> int: ...
    @property
    def max_calls_per_day(self) -> int: ...
    @property
    def min_interval_seconds(self) -> float: ...
    @property
    def timeout_seconds(self) -> float: ...


@dataclass
class MirrorReport:
    """What one mirror pass did; `status` is off, in_sync, sent, failed or paused."""

    status: str = "in_sync"
    calls: int = 0
    series_sent: int = 0
    bars_sent: int = 0
    series_unchanged: int = 0
    series_deferred: int = 0
    error: str | None = None

    def metadata(self) -> dict[str, Any]:
        md: dict[str, Any] = {
            "convex_mirror": self.status,
            "convex_calls": self.calls,
            "convex_series_sent": self.series_sent,
            "convex_bars_sent": self.bars_sent,
            "convex_series_unchanged": self.series_unchanged,
            "convex_series_deferred": self.series_deferred,
        }
        if self.error:
            md["convex_error"] = self.error
        return md


class BudgetSpent(Exception):
    pass


class ConvexMirror:
    def __init__(self, settings: MirrorSettings, connect: Connect, client: ConvexClient | None = None) -> None:
        self.settings = settings
        self._connect = connect
        self._client = client or ConvexClient(settings.url, settings.deploy_key, timeout_s=settings.timeout_seconds)
        self._run_calls = 0

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ budget
    def _take_call(self) -> None:
        s = self.settings
        if self._run_calls >= s.max_calls_per_run:
            raise BudgetSpent(f"this run's budget of {s.max_calls_per_run} Convex calls is spent")
        if s.max_calls_per_day <= 0:
            raise BudgetSpent("the daily Convex call budget is 0")
        with self._connect() as conn, conn, conn.cursor() as cur:
            cur.execute(mirror_sql("take_budget.sql"), {"max_per_day": s.max_calls_per_day})
            if cur.fetchone() is None:
                raise BudgetSpent(f"today's budget of {s.max_calls_per_day} Convex calls (Asia/Ho_Chi_Minh) is spent")
        self._run_calls += 1

    def _call(self, path: str, args: dict[str, Any], report: MirrorReport) -> None:
        self._take_call()
        report.calls += 1
        self._client.mutation(path, args)

    # ------------------------------------------------------------------ candles
    def mirror_candles(self, series: Sequence[tuple[str, Timeframe]], *, force: bool = False) -> MirrorReport:
        """Sends every listed series whose slice changed (and, unless `force`, was not mirrored within
        `min_interval_s`); never raises."""
        report = MirrorReport()
        wanted: dict[Timeframe, list[str]] = {}
        for ticker, tf in series:
            if tf in self.settings.timeframes:
                wanted.setdefault(tf, []).append(ticker)
        try:
            for tf, tickers in wanted.items():
                self._mirror_tf(tf, sorted(set(tickers)), report, force)
        except BudgetSpent as exc:
            report.status, report.error = "paused", str(exc)
            log.warning("convex mirror paused: %s", exc)
        except ConvexError as exc:
            report.status, report.error = "failed", str(exc)
            log.warning("convex mirror failed (the canonical write stands): %s", exc)
        except Exception as exc:  # the mirror is best-effort by contract
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("convex mirror failed (the canonical write stands): %s", report.error)
        return report

    def _mirror_tf(self, tf: Timeframe, tickers: list[str], report: MirrorReport, force: bool) -> None:
        keep = self.settings.keep_bars
        with self._connect() as conn:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with conn.cursor() as cur:
                cur.execute(mirror_sql("watermark.sql"))
                (snapshot_at,) = cur.fetchone()  # type: ignore[misc]
                cur.execute(
                    table_sql(PACKAGE, "slice_hashes.sql", tf),
                    {"tickers": tickers, "tf": tf, "keep": keep},
                )
                current = dict(cur.fetchall())
                recent_s = 0 if force else self.settings.min_interval_seconds
                keys = [series_key(t, tf) for t in tickers]
                cur.execute(mirror_sql("mirror_state.sql"), {"series": keys, "recent_s": recent_s})
                rows = cur.fetchall()
                stored = {key: (h, wm) for key, h, wm, _ in rows}
                recent = {key for key, _, _, is_recent in rows if is_recent}
                differs = [t for t in tickers if stored.get(series_key(t, tf), (None, None))[0] != current.get(t)]
                changed = [t for t in differs if series_key(t, tf) not in recent]
                report.series_unchanged += len(tickers) - len(differs)
                report.series_deferred += len(differs) - len(changed)
                if not changed:
                    conn.rollback()
                    return
                since = [stored.get(series_key(t, tf), (None, None))[1] for t in changed]
                cur.execute(
                    table_sql(PACKAGE, "slice_changes.sql", tf),
                    {"tickers": changed, "since": since, "tf": tf, "keep": keep},
                )
                bars: dict[str, list[dict[str, Any]]] = {t: [] for t in changed}
                for ticker, ts, o, h, l, c, v, source in cur.fetchall():  # noqa: E741
                    bars[ticker].append({"ts": ts, "o": o, "h": h, "l": l, "c": c, "v": v, "source": source})
            conn.rollback()
        unsent = set(bars)
        try:
            for batch in self._batches(tf, bars):
                self._call("candles:upsertLatest", {"keep": keep, "series": batch}, report)
                sent = [b["ticker"] for b in batch]
                self._mark_synced([series_key(t, tf) for t in sent], [current[t] for t in sent], snapshot_at)
                report.series_sent += len(sent)
                report.bars_sent += sum(len(b["bars"]) for b in batch)
                report.status = "sent"
                unsent.difference_update(sent)
        except Exception as exc:
            # Whatever did not arrive stays pending, so the sync check is red and the next run sends it.
            error = None if isinstance(exc, BudgetSpent) else f"{type(exc).__name__}: {exc}"[:500]
            self._mark_pending([series_key(t, tf) for t in sorted(unsent)], error)
            if isinstance(exc, ConvexDisabled):
                log.error("convex deployment disabled; mirroring stops until it is re-enabled: %s", exc)
            raise

    def _batches(self, tf: Timeframe, bars: dict[str, list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """Series grouped into calls of at most max_bars_per_call bars (a series never splits)."""
        batch: list[dict[str, Any]] = []
        size = 0
        for ticker, rows in list(bars.items()):
            if batch and size + len(rows) > self.settings.max_bars_per_call:
                yield batch
                batch, size = [], 0
            batch.append({"ticker": ticker, "tf": tf, "bars": rows})
            size += len(rows)
        if batch:
            yield batch

    def _mark_synced(self, series: list[str], hashes: list[str], watermark: datetime | None) -> None:
        with self._connect() as conn, conn, conn.cursor() as cur:
            cur.execute(mirror_sql("mark_synced.sql"), {"series": series, "hashes": hashes, "watermark": watermark})

    def _mark_pending(self, series: list[str], error: str | None) -> None:
        if not series:
            return
        try:
            with self._connect() as conn, conn, conn.cursor() as cur:
                cur.execute(mirror_sql("mark_pending.sql"), {"series": series, "error": error})
        except psycopg2.Error as exc:
            log.warning("could not record %d pending Convex series: %s", len(series), exc)

    # ------------------------------------------------------------------ news
    def mirror_news(self) -> MirrorReport:
        report = MirrorReport()
        try:
            with self._connect() as conn, conn.cursor() as cur:
                cur.execute(mirror_sql("news_slice.sql"), {"keep": self.settings.keep_articles})
                rows = cur.fetchall()
                cur.execute(mirror_sql("mirror_state.sql"), {"series": [NEWS_SERIES], "recent_s": 0})
                stored = {key: h for key, h, _, _ in cur.fetchall()}
            articles = [
                {"url": u, "title": t, "publishedAt": int(p), "source": s, "tickers": list(k)} for u, t, p, s, k in rows
            ]
            fingerprint = _fingerprint(articles)
            if stored.get(NEWS_SERIES) == fingerprint:
                report.series_unchanged = 1
                return report
            try:
                self._call("articles:upsertLatest", {"keep": self.settings.keep_articles, "articles": articles}, report)
            except (BudgetSpent, ConvexError) as exc:
                self._mark_pending([NEWS_SERIES], None if isinstance(exc, BudgetSpent) else str(exc)[:500])
                raise
            self._mark_synced([NEWS_SERIES], [fingerprint], None)
            report.status, report.series_sent, report.bars_sent = "sent", 1, len(articles)
        except BudgetSpent as exc:
            report.status, report.error = "paused", str(exc)
            log.warning("convex news mirror paused: %s", exc)
        except Exception as exc:  # best-effort by contract
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("convex news mirror failed: %s", report.error)
        return report


def _fingerprint(articles: list[dict[str, Any]]) -> str:
    return hashlib.md5(json.dumps(articles, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
