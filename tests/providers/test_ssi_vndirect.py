"""SSI and VNDirect against the simulator: same market, same canonical bars as VCI; envelopes checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import SIM_NOW
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderPayloadError
from vietmarket_pipelines.providers.ssi import SsiProvider
from vietmarket_pipelines.providers.vci import VciProvider
from vietmarket_pipelines.providers.vndirect import VndirectProvider
from vietmarket_pipelines.simulator.server import SimulatorServer

FAST = HttpPolicy(requests=100, per_seconds=1, timeout_s=2, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
START = SIM_NOW - timedelta(days=20)


@pytest.mark.parametrize("tf", ["1d", "1h", "15m"])
def test_every_provider_normalizes_the_same_market_to_the_same_bars(simulator: SimulatorServer, tf: str) -> None:
    frames = {}
    for provider in (
        VciProvider(simulator.url, policy=FAST),
        SsiProvider(simulator.url, policy=FAST),
        VndirectProvider(simulator.url, policy=FAST),
    ):
        result = provider.fetch(["FPT", "VNINDEX"], tf, START, SIM_NOW)  # type: ignore[arg-type]
        assert result.errors == {}
        frames[provider.name] = {t: s.frame.reset_index(drop=True) for t, s in result.series.items()}
        provider.close()
    for ticker in ("FPT", "VNINDEX"):
        vci = frames["vci"][ticker]
        assert len(vci) > 0
        for other in ("ssi", "vndirect"):
            assert vci.equals(frames[other][ticker]), f"{other} {ticker} {tf} differs from vci"


def test_an_unknown_ticker_is_an_empty_series(simulator: SimulatorServer) -> None:
    for provider in (SsiProvider(simulator.url, policy=FAST), VndirectProvider(simulator.url, policy=FAST)):
        result = provider.fetch(["ZZZZ"], "1d", START, SIM_NOW)
        assert result.errors == {} and len(result.series["ZZZZ"]) == 0


def test_raw_vnd_in_a_thousands_source_is_refused(simulator: SimulatorServer) -> None:
    httpx.post(f"{simulator.url}/_sim/faults", json={"route": "ssi-history", "fault": "raw_vnd", "times": 1})
    result = SsiProvider(simulator.url, policy=FAST).fetch(["FPT"], "1d", START, SIM_NOW)
    assert "is not in thousands of VND" in str(result.errors["FPT"])


def test_an_ssi_error_envelope_is_a_payload_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/statistics/charts/history").respond_with_json({"code": "FAILED", "message": "x"})
    with pytest.raises(ProviderPayloadError, match="ssi history FPT 1d: expected code SUCCESS"):
        SsiProvider(httpserver.url_for(""), policy=FAST).fetch(["FPT"], "1d", None, datetime.now(UTC))


def test_a_vndirect_error_status_is_a_payload_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dchart/history").respond_with_json({"s": "error", "errmsg": "bad"})
    with pytest.raises(ProviderPayloadError, match="vndirect history FPT 1d: expected s ok or no_data, got 'error'"):
        VndirectProvider(httpserver.url_for(""), policy=FAST).fetch(["FPT"], "1d", None, datetime.now(UTC))
