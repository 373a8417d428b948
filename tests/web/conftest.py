"""Fixtures for the web UI tests: compiled translations, a clean cache, signed-in clients."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from tests.servers import Sink, http_sink
from touchflow.core import clock
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Flow
from touchflow.funnel.chains import set_status
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Staff, Store

LOCALE = Path(__file__).resolve().parents[2] / "touchflow" / "locale"


@pytest.fixture(scope="session", autouse=True)
def compiled_messages() -> None:
    """Compile the catalogues (``make messages`` does the same; .mo files are not committed).

    Django caches catalogues per process, so the cache is dropped after compiling.
    """
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/django.po")):
        subprocess.run(["msgfmt", "--check", "-o", str(po.with_suffix(".mo")), str(po)],
                       check=True)
    from django.utils.translation import trans_real

    trans_real._translations = {}  # type: ignore[attr-defined]
    trans_real._default = None  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def clean_cache() -> Iterator[None]:
    """No test may inherit what another left in the per-process cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Real hashing costs seconds per sign-in; these tests are about the flow, not the hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login_client(db: None) -> Callable[[Staff], Client]:
    def make(staff: Staff) -> Client:
        client = Client()
        client.force_login(staff)
        return client

    return make


# -- the engine's state, built through the real actions ------------------------------------

# A Tuesday in June, 12:00 UTC = 14:00 in Warsaw: outside quiet hours.
START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)

# A message, a call one hour later, and a last message two days after that. The name and
# the English text carry markup that the pages must show as text.
FOLLOW_UP = """\
slug: follow-up
name: Follow-up <b>after</b> a visit
description: Test chain.
audience: {trigger: visit, visit_class: [type3]}
exit_on: [purchase, opt_out]
steps:
  - key: hello
    kind: info
    after: 1h
    window: ["10:00", "20:00"]
    channels: [sms, email]
    expires: 1d
    message:
      en:
        subject: "Hi from {{ store.name }}"
        text: "Hello {{ customer.first_name }} <script>x</script>"
      pl: {subject: "Cześć", text: "Cześć {{ customer.first_name }}"}
  - key: ring
    kind: call
    after: 1h
    expires: 1d
    script:
      en: "Call {{ customer.name }} and ask how it went."
  - key: later
    kind: offer
    after: 2d
    at: "11:00"
    channels: [email]
    expires: 1d
    when_capped: skip
    message:
      en: {subject: "Later", text: "Later, {{ customer.first_name }}"}
"""


class Clock:
    """The test's clock: moves only when told to."""

    def __init__(self, traveller: time_machine.Coordinates) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        return clock.now()

    def advance(self, **delta: float) -> datetime:
        self._traveller.shift(timedelta(**delta))
        return clock.now()


@pytest.fixture
def web_clock() -> Iterator[Clock]:
    with time_machine.travel(START, tick=False) as traveller:
        yield Clock(traveller)


@pytest.fixture
def follow_up(db: None, web_clock: Clock) -> Flow:
    flow = load_flow_text(FOLLOW_UP, "flows/follow-up.yaml").flow
    return set_status(flow, "active")


@pytest.fixture
def sink() -> Iterator[tuple[Sink, str]]:
    with http_sink() as server:
        yield server


@pytest.fixture
def dispatch(sink: tuple[Sink, str], web_clock: Clock) -> Iterator[Callable[[], None]]:
    """Run the worker until nothing is due now: SMS to a local HTTP sink, e-mail nowhere."""
    dispatcher = Dispatcher(from_settings(f"sms={sink[1]};email=null:"), now=web_clock.now)

    def run() -> None:
        dispatcher.drain()

    yield run
    dispatcher.close()


@pytest.fixture
def looker(store: Store, salesperson: Staff, follow_up: Flow) -> Callable[..., Customer]:
    """Log a 'did not buy, contacts taken' visit by the salesperson; the customer enters
    the follow-up chain."""

    def make(name: str = "Anna Nowak", phone: str | None = "+48501234567",
             email: str | None = "anna@example.pl", language: str = "en") -> Customer:
        contacts = [ContactInput("phone", phone)] if phone else []
        contacts += [ContactInput("email", email)] if email else []
        visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=salesperson),
                             bought=False, reason="just_looking", contact_capture="taken",
                             contacts=contacts, name=name, language=language,
                             consent=ConsentGrant(contact=True, marketing=True))
        assert visit.customer is not None
        return visit.customer

    return make
