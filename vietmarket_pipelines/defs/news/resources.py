"""Where Vietstock lives (or the simulator standing in for it), which feeds to read, and how politely."""

import dagster as dg
from pydantic import Field

from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.providers.http import HttpPolicy
from vietmarket_pipelines.providers.pacing import SharedPacer
from vietmarket_pipelines.providers.vietstock import DEFAULT_BASE_URL, DEFAULT_FEEDS, VietstockClient


class VietstockResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    base_url: str = DEFAULT_BASE_URL
    feeds: list[str] = Field(
        default=list(DEFAULT_FEEDS), description="RSS feed paths: stocks, insider trading, company results, macro."
    )
    requests_per_second: float = Field(default=1.0, description="Vietstock asks crawlers for about one a second.")
    timeout_seconds: float = 20.0
    max_attempts: int = 4
    # As for the market data: with a database, one budget for every run (scheduled and backfill).
    pacing: TimescaleResource | None = Field(
        default=None, description="The database holding the shared request budget."
    )

    def client(self) -> VietstockClient:
        # Below one a second: one request per 1/rate seconds; above: int(rate) per second.
        requests, per = (
            (1, 1.0 / self.requests_per_second)
            if self.requests_per_second < 1
            else (
                int(self.requests_per_second),
                1.0,
            )
        )
        policy = HttpPolicy(
            requests=requests,
            per_seconds=per,
            timeout_s=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_initial_s=1.0,
        )
        pacer = SharedPacer(self.pacing.dsn, requests, per) if self.pacing else None
        return VietstockClient(self.base_url, policy=policy, pacer=pacer)
