"""The send stage: many requests in flight at once, on a pool of threads.

A worker lets a message go only when there is room: in the worker as a whole, and
for the message's route (the provider account it counts against). Each send runs on
its own thread and touches no database; the worker's main thread collects answers as
they come back and records them. One slow or hanging request holds up only its own
thread, never a batch (decision 0016: threads, not asyncio, on measurements).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
    def __init__(self, limit: int, per_route: int) -> None:
        self.limit = limit
        self.per_route = per_route
        self._pool: ThreadPoolExecutor | None = None
        self._flights: dict[Future[SendResult], Flight] = {}
        self._by_route: Counter[str] = Counter()
        self._done: list[tuple[Flight, SendResult]] = []

    def __len__(self) -> int:
        """Sends started whose answer has not been collected yet."""
        return len(self._flights) + len(self._done)

    def room(self) -> int:
        return self.limit - len(self)

    def route_room(self, key: str) -> int:
        return self.per_route - self._by_route[key]

    def touch_ids(self) -> list[int]:
        return [f.touch.pk for f in self._flights.values()]

    def start(self, flight: Flight) -> None:
        if flight.route.inline:
            self._done.append((flight, _send(flight.route, flight.message)))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="send")
        future = self._pool.submit(_send, flight.route, flight.message)
        self._flights[future] = flight
        self._by_route[flight.route.key] += 1

    def finished(self, timeout: float) -> list[tuple[Flight, SendResult]]:
        """The answers that came back, waiting up to ``timeout`` for a first one."""
        if self._flights and not self._done:
            wait(self._flights, timeout=timeout, return_when=FIRST_COMPLETED)
        done, self._done = self._done, []
        for future in [f for f in self._flights if f.done()]:
            flight = self._flights.pop(future)
            self._by_route[flight.route.key] -= 1
            done.append((flight, future.result()))
        return done

    def drain(
        self, timeout: float, monotonic: Callable[[], float]
    ) -> list[tuple[Flight, SendResult]]:
        """Everything still in flight, waiting at most ``timeout`` in all."""
        deadline = monotonic() + timeout
        done: list[tuple[Flight, SendResult]] = []
        while self._flights or self._done:
            left = deadline - monotonic()
            if left <= 0 and self._flights:
                break
            done.extend(self.finished(max(left, 0.0)))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
