"""Convex mirror settings: off unless CONVEX_URL is set; the deploy key only ever from the environment."""

import os
from collections.abc import Callable
from contextlib import AbstractContextManager

import dagster as dg
import psycopg2.extensions
from pydantic import Field

from vietmarket_core.market import TIMEFRAMES, Timeframe
from vietmarket_pipelines.convex.mirror import ConvexMirror, MirrorSettings


class ConvexMirrorResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    url: str = Field(default="", description="The deployment URL; empty turns mirroring off.")
    deploy_key: str = Field(default="", description="From CONVEX_DEPLOY_KEY; sent as `Authorization: Convex <key>`.")
    keep_bars: int = Field(default=500, description="Bars per (ticker, tf) Convex keeps.")
    timeframes: list[str] = Field(default=["1d"], description="Timeframes mirrored.")
    keep_articles: int = Field(default=50, description="Newest articles Convex keeps.")
    max_bars_per_call: int = 2000
    max_calls_per_run: int = 50
    max_calls_per_day: int = 2000
    min_interval_seconds: float = Field(default=1800.0, description="A series waits this long between mirrors.")
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def mirror(self, connect: Callable[[], AbstractContextManager[psycopg2.extensions.connection]]) -> ConvexMirror:
        unknown = [tf for tf in self.timeframes if tf not in TIMEFRAMES]
        if unknown:
            raise ValueError(f"convex timeframes {unknown} are not among {TIMEFRAMES}")
        if not self.deploy_key:
            raise ValueError("CONVEX_URL is set but CONVEX_DEPLOY_KEY is empty")
        if self.keep_bars > self.max_bars_per_call:
            # A series is never split across calls, so one slice must fit in one.
            raise ValueError(f"keep_bars {self.keep_bars} exceeds max_bars_per_call {self.max_bars_per_call}")
        timeframes: tuple[Timeframe, ...] = tuple(tf for tf in TIMEFRAMES if tf in self.timeframes)
        settings = MirrorSettings(
            url=self.url,
            deploy_key=self.deploy_key,
            keep_bars=self.keep_bars,
            timeframes=timeframes,
            keep_articles=self.keep_articles,
            max_bars_per_call=self.max_bars_per_call,
            max_calls_per_run=self.max_calls_per_run,
            max_calls_per_day=self.max_calls_per_day,
            min_interval_s=self.min_interval_seconds,
            timeout_s=self.timeout_seconds,
        )
        return ConvexMirror(settings, connect)


def convex_from_env() -> ConvexMirrorResource:
    """CONVEX_URL, CONVEX_DEPLOY_KEY, and optionally CONVEX_KEEP_BARS, CONVEX_TIMEFRAMES (e.g. "1d,1h"),
    CONVEX_KEEP_ARTICLES, CONVEX_MAX_CALLS_PER_DAY, CONVEX_MAX_CALLS_PER_RUN, CONVEX_MIN_INTERVAL_S."""
    env = os.environ
    return ConvexMirrorResource(
        url=env.get("CONVEX_URL", ""),
        deploy_key=dg.EnvVar("CONVEX_DEPLOY_KEY") if env.get("CONVEX_DEPLOY_KEY") else "",
        keep_bars=int(env.get("CONVEX_KEEP_BARS", "500")),
        timeframes=[tf.strip() for tf in env.get("CONVEX_TIMEFRAMES", "1d").split(",") if tf.strip()],
        keep_articles=int(env.get("CONVEX_KEEP_ARTICLES", "50")),
        max_calls_per_day=int(env.get("CONVEX_MAX_CALLS_PER_DAY", "2000")),
        max_calls_per_run=int(env.get("CONVEX_MAX_CALLS_PER_RUN", "50")),
        min_interval_seconds=float(env.get("CONVEX_MIN_INTERVAL_S", "1800")),
    )
