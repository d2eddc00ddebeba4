"""The session simulator with no faults and no added corporate actions before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from vietmarket_pipelines.simulator.server import SimulatorServer


def reset(server: SimulatorServer) -> None:
    httpx.delete(f"{server.url}/_sim/faults").raise_for_status()
    httpx.delete(f"{server.url}/_sim/corporate-actions").raise_for_status()


@pytest.fixture
def clean_sim(simulator: SimulatorServer) -> Iterator[SimulatorServer]:
    reset(simulator)
    yield simulator
    reset(simulator)
