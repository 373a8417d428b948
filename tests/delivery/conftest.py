from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from tests.servers import Sink, SmtpInbox, http_sink, smtp_server
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.flows.actions import load_flow_dir
from touchflow.flows.models import Flow
from touchflow.funnel.chains import set_status
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Staff, Store
from touchflow.visits.models import Visit

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"
# A Tuesday in June, 12:00 UTC = 14:00 in Warsaw.
START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


class Clock:
    """The test's clock: moves only when told to."""

    def __init__(self, traveller: time_machine.Coordinates) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        from touchflow.core import clock

        return clock.now()

    def move_to(self, when: datetime) -> None:
        self._traveller.move_to(when)

    def advance(self, **delta: float) -> datetime:
        self._traveller.shift(timedelta(**delta))
        return self.now()


@pytest.fixture
def clock() -> Iterator[Clock]:
    with time_machine.travel(START, tick=False) as traveller:
        yield Clock(traveller)


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, str]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def sink() -> Iterator[tuple[Sink, str]]:
    with http_sink() as server:
        yield server


@pytest.fixture
def flows(db: None) -> dict[str, Flow]:
    results, errors = load_flow_dir(EXAMPLES)
    assert errors == []
    for result in results:
        set_status(result.flow, "active")
    return {r.flow.slug: r.flow for r in results}


@pytest.fixture
def make_dispatcher(
    sink: tuple[Sink, str], smtp: tuple[SmtpInbox, str], clock: Clock
) -> Iterator[Callable[..., Dispatcher]]:
    made: list[Dispatcher] = []

    def make(channels: str | None = None, **options: object) -> Dispatcher:
        spec = channels if channels is not None else f"sms={sink[1]};email={smtp[1]}"
        dispatcher = Dispatcher(from_settings(spec), now=clock.now, **options)  # type: ignore[arg-type]
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture
def type3_visit(store: Store, salesperson: Staff, clock: Clock) -> Callable[..., Visit]:
    """Log a 'did not buy, contacts taken' visit now, with the given contacts."""

    def make(
        phone: str | None = "501 234 567",
        email: str | None = None,
        name: str = "Anna Nowak",
        marketing: bool = False,
        time_zone: str | None = None,
    ) -> Visit:
        contacts = []
        if phone:
            contacts.append(check_contact("phone", phone, region="PL"))
        if email:
            contacts.append(check_contact("email", email, region=None))
        visit, _ = log_visit(
            store=store,
            actor=Actor(source="counter", staff=salesperson),
            bought=False,
            reason="just_looking",
            contact_capture="taken",
            contacts=contacts,
            name=name,
            consent=ConsentGrant(contact=True, marketing=marketing),
            time_zone=time_zone,
        )
        return visit

    return make
