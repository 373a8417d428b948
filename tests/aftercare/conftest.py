"""The engine's fixtures (driven clock, example chains, sinks) serve the check-ins too,
and a sale whose check-in the engine sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.delivery.conftest import (  # noqa: F401
    Clock,
    clock,
    flows,
    make_dispatcher,
    sink,
    smtp,
)
from touchflow.aftercare import actions as check_ins
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.delivery.models import Touch, TouchState
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.visits.models import Visit


@pytest.fixture
def sale(store: Store, salesperson: Staff, clock: Clock,  # noqa: F811
         flows: Any) -> Callable[..., Visit]:  # noqa: F811
    """A sale at the counter to a customer who gave their phone (and e-mail)."""

    def make(phone: str | None = "501 234 567", email: str | None = None,
             language: str | None = None, marketing: bool = False) -> Visit:
        contacts = [check_contact("phone", phone, region="PL")] if phone else []
        if email:
            contacts.append(check_contact("email", email, region=None))
        visit, _ = log_visit(
            store=store, actor=Actor(source="counter", staff=salesperson), bought=True,
            contact_capture="taken", contacts=contacts, name="Anna Nowak",
            consent=ConsentGrant(contact=True, marketing=marketing), language=language,
        )
        return visit

    return make


def send_check_in(make_dispatcher: Callable[..., Any], clock: Clock) -> Touch:  # noqa: F811
    clock.advance(days=4)
    dispatcher = make_dispatcher()
    dispatcher.drain()
    touch = Touch.objects.get(step__key="is-everything-ok")
    assert touch.state == TouchState.SENT, touch.last_error
    return touch




@pytest.fixture
def answered(sale: Callable[..., Visit], make_dispatcher: Callable[..., Any],  # noqa: F811
             clock: Clock) -> Callable[..., Touch]:  # noqa: F811
    """A sale, its check-in sent and answered by SMS with ``reply`` half an hour later."""

    def make(reply: str = "Tak") -> Touch:
        sale()
        touch = send_check_in(make_dispatcher, clock)
        check_ins.answer_reply(touch.customer_id, touch.store_id, "sms", reply,
                               clock.advance(minutes=30))
        return touch

    return make
