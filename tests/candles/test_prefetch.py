"""Fetching ahead of writing: order, overlap, errors and an early stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from vietmarket_pipelines.defs.candles.prefetch import Prefetched


def test_items_arrive_in_order_while_the_consumer_is_busy() -> None:
    def produce() -> Iterator[int]:
        for i in range(6):
            time.sleep(0.1)
            yield i

    started = time.monotonic()
    got = []
    for item in Prefetched(produce).start():
        time.sleep(0.1)  # the "write" of each item
        got.append(item)
    # Producing and consuming overlap: ~0.7 s, not the 1.2 s of doing them one after the other.
    assert got == list(range(6))
    assert time.monotonic() - started < 1.0


def test_a_producer_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise RuntimeError("provider exploded")

    got = []
    with pytest.raises(RuntimeError, match="provider exploded"):
        for item in Prefetched(produce):
            got.append(item)
    assert got == [1]


def test_a_consumer_that_stops_stops_the_producer_and_its_cleanup_runs() -> None:
    produced, closed = [], threading.Event()

    def produce() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    prefetched = Prefetched(produce, depth=2)
    with pytest.raises(ValueError, match="write failed"):
        for item in prefetched:
            if item == 3:
                raise ValueError("write failed")
    assert closed.is_set()
    assert len(produced) < 10
