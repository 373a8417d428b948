"""The send stage on its own: threads, the answer queue, room per route. No database:
``Flight`` carries only what ``InFlight`` reads (the route and the message); the sends
are functions that wait on events the test sets, so nothing depends on timing."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from touchflow.delivery.channels.base import OutgoingMessage, Route, SendResult
from touchflow.delivery.sending import Flight, InFlight

WAIT = 5.0  # seconds: only a broken stage waits this long


def flight(n: int, route: Route) -> Flight:
    touch: Any = SimpleNamespace(pk=n)
    return Flight(touch, route, OutgoingMessage(n, f"key-{n}", "sms", "+48501234567", "hi"))


def held_route(key: str, gates: dict[int, threading.Event]) -> Route:
    """Each send waits for its touch's gate, then answers sent."""
    def send(message: OutgoingMessage) -> SendResult:
        gates[message.touch_id].wait(WAIT)
        return SendResult.sent(f"msg-{message.touch_id}")
    return Route(key=key, send=send)


def collect(sends: InFlight, count: int) -> list[tuple[Flight, SendResult]]:
    got: list[tuple[Flight, SendResult]] = []
    deadline = time.monotonic() + WAIT
    while len(got) < count and time.monotonic() < deadline:
        got.extend(sends.finished(0.5))
    return got


def test_a_held_send_holds_up_only_itself() -> None:
    gates = {n: threading.Event() for n in range(1, 4)}
    route = held_route("account:1", gates)
    sends = InFlight(limit=10, per_route=10)
    for n in (1, 2, 3):
        sends.start(flight(n, route))
    assert len(sends) == 3 and sends.route_room("account:1") == 7
    gates[3].set()
    gates[2].set()
    answered = collect(sends, 2)
    assert sorted(f.touch.pk for f, _r in answered) == [2, 3]
    assert all(r.ok for _f, r in answered)
    assert sends.touch_ids() == [1]  # still in flight
    assert sends.route_room("account:1") == 9
    gates[1].set()
    assert [f.touch.pk for f, _r in collect(sends, 1)] == [1]
    assert len(sends) == 0 and sends.room() == 10
    sends.close()


def test_an_adapter_that_raises_is_an_unknown_outcome_not_a_lost_touch() -> None:
    def broken(message: OutgoingMessage) -> SendResult:
        raise ConnectionResetError("peer went away")
    sends = InFlight(limit=2, per_route=2)
    sends.start(flight(7, Route(key="k", send=broken)))
    [(done, result)] = collect(sends, 1)
    assert done.touch.pk == 7
    assert not result.ok and result.ambiguous and "ConnectionResetError" in result.error
    sends.close()


def test_inline_routes_answer_at_once_and_drain_stops_at_its_deadline() -> None:
    gates = {1: threading.Event()}
    sends = InFlight(limit=4, per_route=4)
    sends.start(flight(9, Route(key="null", send=lambda m: SendResult.sent(), inline=True)))
    sends.start(flight(1, held_route("slow", gates)))
    moments = iter([0.0, 0.0, 10.0, 10.0, 10.0])
    drained = sends.drain(1.0, monotonic=lambda: next(moments))
    assert [f.touch.pk for f, _r in drained] == [9]  # the held one is left in flight
    assert sends.touch_ids() == [1]
    gates[1].set()
    sends.close()


def test_no_more_threads_than_sends_ever_in_flight() -> None:
    gates = {n: threading.Event() for n in range(1, 6)}
    route = held_route("r", gates)
    sends = InFlight(limit=10, per_route=10)
    for n in (1, 2):
        sends.start(flight(n, route))
    for gate in gates.values():
        gate.set()
    collect(sends, 2)
    for n in (3, 4, 5):
        sends.start(flight(n, route))
    collect(sends, 3)
    assert len(sends._threads) == 3  # two, then one more for the third at once
    sends.close()
