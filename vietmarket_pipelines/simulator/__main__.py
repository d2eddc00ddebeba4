"""Runs the simulator on its own: `python -m vietmarket_pipelines.simulator --port 8765`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date, datetime

from vietmarket_pipelines.simulator.faults import FaultBook, FaultRule
from vietmarket_pipelines.simulator.market import CalendarOverrides, SimulatedMarket
from vietmarket_pipelines.simulator.server import Simulator, SimulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Local VCI/SSI/VNDirect (dchart, finfo)/Vietstock stand-in over a synthetic market"
    )
    parser.add_argument("--host", default=os.environ.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT", "8765")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SIM_SEED", "7")))
    parser.add_argument(
        "--now",
        default=os.environ.get("SIM_NOW"),
        help="the market's clock, ISO 8601 with offset (default: the real clock)",
    )
    parser.add_argument("--faults", default=os.environ.get("SIM_FAULTS"), help="JSON list of fault rules")
    parser.add_argument(
        "--closed",
        default=os.environ.get("SIM_CLOSED", ""),
        help="comma-separated ISO dates the market closed although the rules say it trades",
    )
    parser.add_argument(
        "--opened",
        default=os.environ.get("SIM_OPENED", ""),
        help="comma-separated ISO weekdays the market traded although the rules call them holidays",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s simulator %(message)s")

    now = datetime.fromisoformat(args.now) if args.now else None
    if now is not None and now.tzinfo is None:
        parser.error("--now needs an offset, e.g. 2026-02-13T15:30:00+07:00")
    book = FaultBook()
    for raw in json.loads(args.faults) if args.faults else []:
        book.add(FaultRule.parse(raw))
    overrides = CalendarOverrides(_dates(args.closed), _dates(args.opened))
    market = SimulatedMarket(args.seed, now, calendar_overrides=overrides)
    server = SimulatorServer((args.host, args.port), Simulator(market, book))
    logging.info(
        "serving %d tickers on %s (clock: %s)",
        len(server.simulator.market.tickers),
        server.url,
        args.now or "real",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _dates(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d.strip()) for d in text.split(",") if d.strip())


if __name__ == "__main__":
    sys.exit(main())
