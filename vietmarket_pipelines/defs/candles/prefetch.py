"""Runs a generator in a background thread, a few items ahead of its consumer."""

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetched(Generic[T]):
    """Iterates what `produce()` yields, produced in a thread up to `depth` items ahead.

    The candles asset fetches the next batch from the provider while the IO manager writes the
    current one, so a run takes about max(fetch, write) rather than their sum.  An exception in
    the producer is raised to the consumer at the point it happened; a consumer that stops early
    (an error while writing) stops the producer before its next item.
    """

    def __init__(self, produce: Callable[[], Iterator[T]], depth: int = 4) -> None:
        self._produce = produce
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)
        self._started = False

    def start(self) -> "Prefetched[T]":
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        items = self._produce()
        try:
            for item in items:
                if not self._put(item):
                    return
        except BaseException as exc:  # every failure belongs to the consumer, even KeyboardInterrupt
            self._put(_Raised(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        self.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                yield item  # type: ignore[misc]
        finally:
            self.stop()

    def stop(self) -> None:
        """Stops the producer (it finishes the item in hand) and waits for its thread."""
        self._stop.set()
        if self._started:
            self._thread.join()
