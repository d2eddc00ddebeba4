"""The TimescaleDB resource every domain writes and reads through."""

import dagster as dg

from vietmarket_pipelines.timescale.candle_store import CandleStore


class TimescaleResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The ingestion connection to TimescaleDB (a vietmarket_writer login)."""

    dsn: str
    attempts: int = 5

    def store(self) -> CandleStore:
        return CandleStore(self.dsn, attempts=self.attempts)
