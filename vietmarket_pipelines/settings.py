"""Every environment variable the code location reads, each in this one place; defaults live on the resources."""

import os
from collections.abc import Callable
from typing import Any

import dagster as dg

from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.resources import VietstockResource

# Each provider's base-URL variable and the resource field it sets.
PROVIDER_URL_ENV: tuple[tuple[str, str], ...] = (
    ("VCI_BASE_URL", "vci_base_url"),
    ("SSI_BASE_URL", "ssi_base_url"),
    ("VNDIRECT_DCHART_BASE_URL", "vndirect_dchart_base_url"),
    ("VNDIRECT_FINFO_BASE_URL", "vndirect_finfo_base_url"),
    ("VIETSTOCK_BASE_URL", "base_url"),
)
# Points every provider without a URL of its own at one server: the offline demo's simulator.
SIMULATOR_ENV = "VIETMARKET_SIMULATOR_URL"


def _timeframes(value: str) -> list[str]:
    return [tf.strip() for tf in value.split(",") if tf.strip()]


# Each variable, the mirror field it sets, and how its text is read.
CONVEX_ENV: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("CONVEX_URL", "url", str),
    ("CONVEX_KEEP_BARS", "keep_bars", int),
    ("CONVEX_TIMEFRAMES", "timeframes", _timeframes),
    ("CONVEX_KEEP_ARTICLES", "keep_articles", int),
    ("CONVEX_MAX_CALLS_PER_DAY", "max_calls_per_day", int),
    ("CONVEX_MAX_CALLS_PER_RUN", "max_calls_per_run", int),
    ("CONVEX_MIN_INTERVAL_S", "min_interval_seconds", float),
)


def step_retry_policy() -> dg.RetryPolicy | None:
    """Step retries for outages longer than the HTTP client's own retries (minutes, not seconds).

    VIETMARKET_STEP_RETRIES (default 2) and VIETMARKET_STEP_RETRY_DELAY_S (30) tune them; the tests
    turn them off.
    """
    retries = int(os.environ.get("VIETMARKET_STEP_RETRIES", "2"))
    if retries <= 0:
        return None
    return dg.RetryPolicy(
        max_retries=retries,
        delay=float(os.environ.get("VIETMARKET_STEP_RETRY_DELAY_S", "30")),
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def timescale_from_env() -> TimescaleResource:
    """The ingestion login (VIETMARKET_PG_URL), kept an EnvVar so the password never enters config."""
    return TimescaleResource(dsn=dg.EnvVar("VIETMARKET_PG_URL"))


def provider_urls_from_env() -> dict[str, str]:
    """The base URL of each provider the environment names (field name -> URL); unset ones keep the default."""
    simulator = os.environ.get(SIMULATOR_ENV, "")
    urls = {field: os.environ.get(var, "") or simulator for var, field in PROVIDER_URL_ENV}
    return {field: url for field, url in urls.items() if url}


def market_data_from_env(urls: dict[str, str], timescale: TimescaleResource) -> MarketDataResource:
    """Candle and universe providers, sharing one request budget through the candles database."""
    own: dict[str, Any] = {field: url for field, url in urls.items() if field in MarketDataResource.model_fields}
    return MarketDataResource(**own, pacing=timescale)


def vietstock_from_env(urls: dict[str, str], timescale: TimescaleResource) -> VietstockResource:
    own: dict[str, Any] = {field: url for field, url in urls.items() if field in VietstockResource.model_fields}
    return VietstockResource(**own, pacing=timescale)


def convex_from_env() -> ConvexMirrorResource:
    """Off unless CONVEX_URL is set; the deploy key stays an EnvVar, so it is never in config."""
    overrides: dict[str, Any] = {
        field: parse(os.environ[var]) for var, field, parse in CONVEX_ENV if os.environ.get(var)
    }
    if os.environ.get("CONVEX_DEPLOY_KEY"):
        overrides["deploy_key"] = dg.EnvVar("CONVEX_DEPLOY_KEY")
    return ConvexMirrorResource(**overrides)


def provider_urls_in_effect() -> dict[str, str]:
    """Provider -> the base URL the code location's processes get: the environment's, else the default."""
    urls = provider_urls_from_env()
    resolved: dict[str, str] = {}
    for var, field in PROVIDER_URL_ENV:
        resource = VietstockResource if field == "base_url" else MarketDataResource
        name = var.removesuffix("_BASE_URL").lower()
        resolved[name] = urls.get(field) or str(resource.model_fields[field].default)
    return resolved


def main() -> None:
    """Prints the settings a `make run` hands its services, one `name: value` a line, secrets left out."""
    for name, url in provider_urls_in_effect().items():
        print(f"provider {name}: {url}")
    print(f"convex mirror: {os.environ.get('CONVEX_URL') or 'off'}")


if __name__ == "__main__":
    main()
