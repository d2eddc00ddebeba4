"""The market-data resource both the universe and the candles read: provider URLs, politeness, routing."""

import dagster as dg
from pydantic import Field

from vietmarket_core.market import Timeframe
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.providers.base import CandleProvider
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient
from vietmarket_pipelines.providers.pacing import Pacer, SharedPacer
from vietmarket_pipelines.providers.ssi import SsiProvider
from vietmarket_pipelines.providers.universe import DEFAULT_MIN_STOCKS, Universe, fetch_universe
from vietmarket_pipelines.providers.vci import VciProvider
from vietmarket_pipelines.providers.vndirect import VndirectProvider

PROVIDERS = ("vci", "ssi", "vndirect")


class MarketDataResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Base URLs (the real providers by default; `vietmarket_pipelines.settings` may point them at the
    simulator), politeness settings, and the routing of each timeframe to a provider."""

    vci_base_url: str = "https://trading.vietcap.com.vn"
    ssi_base_url: str = "https://iboard-api.ssi.com.vn"
    vndirect_dchart_base_url: str = "https://dchart-api.vndirect.com.vn"
    vndirect_finfo_base_url: str = "https://api-finfo.vndirect.com.vn"
    routes: dict[str, str] = Field(
        default={"1d": "vci", "1h": "vci", "15m": "vci"},
        description="Which provider serves each timeframe; never mixed inside one series.",
    )
    ticker_routes: dict[str, str] = Field(
        default={}, description='Per-series overrides, e.g. {"VNINDEX:1d": "vndirect"}.'
    )
    # One budget per provider for the whole deployment when `pacing` is set (as deployed):
    # VCI allows roughly 20 requests per short window; 15 per 5 s, spaced evenly (one every
    # 333 ms), keeps any 5 s window at <= 15 however many run workers call it, a quarter under
    # VCI's limit.  (Before, each of up to two processes had 10 per 5 s with bursts: up to 20.)
    # A latest tick is 3 x 32 batched requests: >= 32 s of pacing, whatever the pool allows.
    # Without `pacing` the budget applies to each client alone (tests, one-off scripts).
    requests_per_window: int = 15
    window_seconds: float = 5.0
    pacing: TimescaleResource | None = Field(
        default=None,
        description="The database holding the shared per-provider request budget (provider_pacing); "
        "empty: each client paces itself.",
    )
    timeout_seconds: float = 20.0
    max_attempts: int = 5
    min_listed_stocks: int = DEFAULT_MIN_STOCKS

    def policy(self) -> HttpPolicy:
        return HttpPolicy(
            requests=self.requests_per_window,
            per_seconds=self.window_seconds,
            timeout_s=self.timeout_seconds,
            max_attempts=self.max_attempts,
        )

    def provider_name(self, ticker: str, tf: Timeframe) -> str:
        name = self.ticker_routes.get(f"{ticker}:{tf}") or self.routes.get(tf, "vci")
        if name not in PROVIDERS:
            raise ValueError(f"route for {ticker} {tf} names unknown provider {name!r}; one of {PROVIDERS}")
        return name

    def pacer(self) -> Pacer | None:
        """The shared budget's pacer, or None for a client-local limiter."""
        if self.pacing is None:
            return None
        return SharedPacer(self.pacing.dsn, self.requests_per_window, self.window_seconds)

    def provider(self, name: str) -> CandleProvider:
        if name == "vci":
            return VciProvider(self.vci_base_url, policy=self.policy(), calendar=TradingCalendar(), pacer=self.pacer())
        if name == "ssi":
            return SsiProvider(self.ssi_base_url, policy=self.policy(), pacer=self.pacer())
        if name == "vndirect":
            return VndirectProvider(self.vndirect_dchart_base_url, policy=self.policy(), pacer=self.pacer())
        raise ValueError(f"unknown provider {name!r}")

    def universe(self) -> Universe:
        with (
            ProviderClient("vci", self.vci_base_url, policy=self.policy(), pacer=self.pacer()) as vci,
            ProviderClient("vndirect", self.vndirect_finfo_base_url, policy=self.policy(), pacer=self.pacer()) as vnd,
        ):
            return fetch_universe(vci, vnd, min_stocks=self.min_listed_stocks)
