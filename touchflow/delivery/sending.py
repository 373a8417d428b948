"""The send stage: many requests in flight at once, on a pool of threads.

A worker lets a message go only when there is room: in the worker as a whole, and
for the message's route (the provider account it counts against). Each send runs on
its own thread and touches no database; the worker's main thread collects answers as
they come back and records them. One slow or hanging request holds up only its own
thread, never a batch (decision 0016: threads, not asyncio, on measurements).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from touchflow.delivery.channels.base import OutgoingMessage, Route, SendResult
from touchflow.delivery.due import Due

log = logging.getLogger(__name__)


@dataclass
class Flight:
    touch: Due
    route: Route
    message: OutgoingMessage


def _send(route: Route, message: OutgoingMessage) -> SendResult:
    try:
        return route.send(message)
    except Exception as exc:  # noqa: BLE001 - a broken adapter must not lose the touch
        log.exception("sending touch %s on %s failed", message.touch_id, route.key)
        # Nobody knows how far the adapter got before it raised.
        return SendResult.unknown(f"{type(exc).__name__}: {exc}")


class InFlight:
    """Sends on their own threads, answers on one queue the main thread reads.

    A plain pair of queues rather than a ``ThreadPoolExecutor``: its futures cost a
    condition variable each, and waiting for the first of 200 of them locks all 200,
    every step (6 % of a worker's time under load, measured with py-spy). A thread is
    started whenever more sends are in flight than there are threads, so a slow send
    never waits behind another, up to ``limit`` threads.
    """

    def __init__(self, limit: int, per_route: int) -> None:
        self.limit = limit
        self.per_route = per_route
        self._jobs: queue.SimpleQueue[Flight | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[tuple[Flight, SendResult]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._flying: dict[int, Flight] = {}  # by id(flight)
        self._by_route: Counter[str] = Counter()
        self._done: list[tuple[Flight, SendResult]] = []

    def __len__(self) -> int:
        """Sends started whose answer has not been collected yet."""
        return len(self._flying) + len(self._done)

    def room(self) -> int:
        return self.limit - len(self)

    def route_room(self, key: str) -> int:
        return self.per_route - self._by_route[key]

    def touch_ids(self) -> list[int]:
        return [f.touch.pk for f in self._flying.values()]

    def start(self, flight: Flight) -> None:
        if flight.route.inline:
            self._done.append((flight, _send(flight.route, flight.message)))
            return
        self._flying[id(flight)] = flight
        self._by_route[flight.route.key] += 1
        if len(self._flying) > len(self._threads) and len(self._threads) < self.limit:
            thread = threading.Thread(target=self._serve, name=f"send-{len(self._threads)}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()
        self._jobs.put(flight)

    def _serve(self) -> None:
        while (flight := self._jobs.get()) is not None:
            self._answers.put((flight, _send(flight.route, flight.message)))

    def finished(self, timeout: float) -> list[tuple[Flight, SendResult]]:
        """The answers that came back, waiting up to ``timeout`` for a first one."""
        block = timeout > 0 and bool(self._flying) and not self._done
        done, self._done = self._done, []
        for flight, result in self._take(block, timeout):
            del self._flying[id(flight)]
            self._by_route[flight.route.key] -= 1
            done.append((flight, result))
        return done

    def _take(self, block: bool, timeout: float) -> list[tuple[Flight, SendResult]]:
        """Every answer queued now (after waiting for a first one when ``block``)."""
        answers = []
        while True:
            try:
                answers.append(self._answers.get(block, timeout if block else None))
            except queue.Empty:
                return answers
            block = False

    def drain(
        self, timeout: float, monotonic: Callable[[], float]
    ) -> list[tuple[Flight, SendResult]]:
        """Everything still in flight, waiting at most ``timeout`` in all."""
        deadline = monotonic() + timeout
        done: list[tuple[Flight, SendResult]] = []
        while self._flying or self._done:
            left = deadline - monotonic()
            if left <= 0 and self._flying:
                break
            done.extend(self.finished(max(left, 0.0)))
        return done

    def close(self) -> None:
        """Sends not yet begun are dropped; a thread mid-send finishes it and ends (the
        threads are daemons: a send stalled past the worker's grace does not keep the
        process alive; its touch stays marked in flight, decision 0016)."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._jobs.put(None)
        self._threads = []
