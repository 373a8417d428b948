"""Happy → a referral request with a personal code and link; a newcomer who comes with
it — at the counter, through the API, on the link's page — is linked to the referrer
after the checks; a review request goes to everyone who answered, never only the happy
(issue 10)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.delivery.conftest import Clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import referrals
from touchflow.customers.actions import ConsentGrant, ContactInput, check_contact
from touchflow.customers.models import ContactPoint, Customer, Referral, ReferralCode
from touchflow.delivery.models import Touch, TouchState
from touchflow.flows.models import Enrollment
from touchflow.flows.spec import FlowFileError, parse_flow
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actions import create_token
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

NEWCOMER = "+48600100200"


def _sent(make_dispatcher: Callable[..., Any], clock: Clock, sink: tuple[Any, str],
          key: str, days: int) -> dict[str, Any]:
    clock.advance(days=days)
    make_dispatcher().drain()
    touch = Touch.objects.get(step__key=key)
    assert touch.state == TouchState.SENT, touch.last_error
    return next(b for b in sink[0].received if b["idempotency_key"] == touch.idempotency_key)


# -- the referral request --------------------------------------------------------------


def test_a_happy_customer_gets_their_code_and_link(
    answered: Callable[..., Touch], make_dispatcher: Callable[..., Any], clock: Clock,
    sink: tuple[Any, str],
) -> None:
    touch = answered("Tak, wszystko OK")
    code = ReferralCode.objects.get(customer_id=touch.customer_id, store_id=touch.store_id)
    body = _sent(make_dispatcher, clock, sink, "bring-a-friend", 2)
    assert code.code in body["text"] and f"/ref/{code.code}" in body["text"]


def test_an_unhappy_customer_is_not_asked_for_a_referral(
    answered: Callable[..., Touch], manager: Staff,
) -> None:
    touch = answered("Nie")
    assert not ReferralCode.objects.exists()
    assert not Enrollment.objects.filter(customer_id=touch.customer_id,
                                         flow__slug="referral").exists()


# -- coming with a code ------------------------------------------------------------------


@pytest.fixture
def code(answered: Callable[..., Touch]) -> ReferralCode:
    touch = answered("Tak")
    return ReferralCode.objects.get(customer_id=touch.customer_id)


def test_the_links_page_signs_up_a_newcomer_and_both_timelines_say_so(
    code: ReferralCode, client: Client,
) -> None:
    page = client.get(f"/ref/{code.code}")
    assert page.status_code == 200 and code.store.name in page.content.decode()
    done = client.post(f"/ref/{code.code.lower()}", {"name": "Ola", "contact": NEWCOMER,
                                                     "consent": "1"})
    assert done.status_code == 200 and 'id="referral-done"' in done.content.decode()
    referral = Referral.objects.get()
    assert (referral.state, referral.via, referral.referrer_id) == (
        "counted", "link", code.customer_id)
    assert ContactPoint.objects.get(customer_id=referral.referred_id).value == NEWCOMER
    assert TimelineEvent.objects.filter(kind=EventKind.REFERRAL_MADE,
                                        customer_id=code.customer_id).count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.REFERRED,
                                        customer_id=referral.referred_id).count() == 1


@pytest.mark.parametrize(("form", "field"), [
    ({"contact": NEWCOMER}, "consent"),
    ({"contact": "", "consent": "1"}, "contact"),
    ({"contact": "12", "consent": "1"}, "contact"),
    ({"contact": "not-an-email@", "consent": "1"}, "contact"),
    ({"contact": NEWCOMER, "consent": "1", "name": "x\x00y"}, "name"),
])
def test_bad_input_on_the_page_names_the_field_and_creates_nobody(
    code: ReferralCode, client: Client, form: dict[str, str], field: str,
) -> None:
    before = Customer.objects.count()
    page = client.post(f"/ref/{code.code}", form)
    assert page.status_code == 422
    assert f'id="{field}-error"' in page.content.decode()
    assert Customer.objects.count() == before and not Referral.objects.exists()


def test_an_unknown_code_is_a_polite_404(client: Client, db: None) -> None:
    page = client.get("/ref/NOSUCH")
    assert page.status_code == 404 and "This code does not work" in page.content.decode()


def test_a_customer_already_on_file_or_the_referrer_themself_does_not_count(
    code: ReferralCode, client: Client, sale: Callable[..., Visit],
) -> None:
    # The referrer's own phone: themself. The page says the same thank-you either way.
    own = client.post(f"/ref/{code.code}", {"contact": "+48501234567", "consent": "1"})
    assert own.status_code == 200 and 'id="referral-done"' in own.content.decode()
    assert Referral.objects.get().reason == referrals.SELF
    Referral.objects.all().delete()
    existing = Customer.objects.create(home_store=code.store, created_at=code.created_at)
    outcome = referrals.refer(code, existing, new=False, via="api", at=code.created_at)
    assert (outcome.referral.state, outcome.referral.reason) == ("refused", referrals.EXISTING)


def test_one_referral_per_newcomer(code: ReferralCode, client: Client) -> None:
    for _ in range(2):
        client.post(f"/ref/{code.code}", {"contact": NEWCOMER, "consent": "1"})
    assert Referral.objects.count() == 1


def test_a_burst_of_referrals_is_held_for_a_manager_not_dropped(
    code: ReferralCode, client: Client, manager: Staff, clock: Clock,
) -> None:
    for n in range(referrals.BURST + 1):
        client.post(f"/ref/{code.code}", {"contact": f"+4860010{n:04d}", "consent": "1"})
    states = list(Referral.objects.order_by("pk").values_list("state", flat=True))
    assert states == ["counted"] * referrals.BURST + ["held"]
    held = Referral.objects.get(state="held")
    assert referrals.decide(held, manager, True, clock.now()).state == "counted"
    with pytest.raises(InvalidInput):
        referrals.decide(held, manager, False, clock.now())


def test_a_code_typed_at_the_counter_counts(
    code: ReferralCode, store: Store, salesperson: Staff,
) -> None:
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=salesperson),
                         bought=True, contact_capture="taken", name="Ola",
                         contacts=[check_contact("phone", NEWCOMER, region="PL")],
                         consent=ConsentGrant(contact=True), referral_code=f" {code.code} ")
    referral = Referral.objects.get()
    assert (referral.referred_id, referral.via, referral.state) == (
        visit.customer_id, "counter", "counted")


@pytest.mark.parametrize(("code_text", "contacts", "problem"), [
    ("NOSUCH", [ContactInput("phone", NEWCOMER)], "unknown_code"),
    (None, [], "required"),
])
def test_the_counter_refuses_a_bad_code_naming_it(
    code: ReferralCode, store: Store, salesperson: Staff, code_text: str | None,
    contacts: list[ContactInput], problem: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=True,
                  contact_capture="taken" if contacts else "refused", contacts=contacts,
                  consent=ConsentGrant(contact=True), referral_code=code_text or code.code)
    assert (caught.value.field, caught.value.code) == ("referral_code", problem)


def test_the_api_takes_a_referral_code_and_names_it_when_wrong(
    code: ReferralCode, store: Store, client: Client,
) -> None:
    _token, secret = create_token("till", store=store)
    headers = {"Authorization": f"Bearer {secret}"}

    def post(body: dict[str, Any]) -> Any:
        return client.post("/api/v1/visits", data=json.dumps(body),
                           content_type="application/json", headers=headers)

    body = {"bought": True, "contact_capture": "taken",
            "customer": {"phone": NEWCOMER, "consent": {"contact": True}}}
    wrong = post({**body, "referral_code": "NOSUCH"})
    assert wrong.status_code == 422
    assert [p["field"] for p in wrong.json()["detail"]] == ["referral_code"]
    assert post({**body, "referral_code": code.code}).status_code == 201
    assert Referral.objects.get().via == "api"


# -- the review request ------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["Tak", "Nie"])
def test_everyone_who_answered_gets_the_review_link_and_its_clicks_count(
    answered: Callable[..., Touch], make_dispatcher: Callable[..., Any], clock: Clock,
    sink: tuple[Any, str], store: Store, client: Client, manager: Staff, reply: str,
) -> None:
    store.review_url = "https://reviews.example/meble-nowak"
    store.cap_messages = 5  # a happy customer also gets the referral request this week
    store.save()
    answered(reply)
    body = _sent(make_dispatcher, clock, sink, "leave-a-review", 4)
    link = next(w for w in body["text"].split() if "/go/" in w)
    path = link.split("://", 1)[1].split("/", 1)[1]
    for _ in range(2):
        hop = client.get(f"/{path}")
        assert (hop.status_code, hop["Location"]) == (302, store.review_url)
    assert TimelineEvent.objects.filter(kind=EventKind.REVIEW_CLICK).count() == 2
    forged = client.get(f"/{path[:-1]}{'A' if path[-1] != 'A' else 'B'}")
    assert forged.status_code == 400


def test_a_store_without_a_review_page_asks_nobody(answered: Callable[..., Touch]) -> None:
    touch = answered("Tak")
    assert not Enrollment.objects.filter(customer_id=touch.customer_id,
                                         flow__slug="review").exists()


REVIEW_CHAIN = """\
slug: reviews
name: Reviews
audience:
  trigger: TRIGGER
steps:
  - key: ask
    kind: review_request
    after: 1d
    channels: [sms]
    message:
      en: {text: "Review us: {{ review_url }}"}
"""


@pytest.mark.parametrize("trigger", ["happy", "[answered, happy]", "purchase"])
def test_review_gating_cannot_be_configured(trigger: str) -> None:
    with pytest.raises(FlowFileError) as caught:
        parse_flow(REVIEW_CHAIN.replace("TRIGGER", trigger))
    assert "review gating" in str(caught.value)
    parse_flow(REVIEW_CHAIN.replace("TRIGGER", "answered"))  # everyone who answered: fine
