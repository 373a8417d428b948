"""The signed one-click unsubscribe link: no sign-in, exactly the right contacts, idempotent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.delivery.models import Touch
from touchflow.delivery.render import unsubscribe_token, unsubscribe_url
from touchflow.flows.models import Enrollment
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent


def _consents(customer: Customer) -> dict[str, tuple[bool | None, bool | None]]:
    return {p.kind: (p.contact_consent, p.marketing_consent)
            for p in ContactPoint.objects.filter(customer=customer)}


def _csrf_client() -> Client:
    # The customer's mail client has no session and no CSRF cookie.
    return Client(enforce_csrf_checks=True)


def test_the_link_of_a_message_opens_the_page_and_changes_nothing(
    looker: Callable[..., Customer],
) -> None:
    anna = looker()
    url = unsubscribe_url(anna.pk, "email")
    path = url.removeprefix("http://127.0.0.1:8000")
    response = _csrf_client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "You will no longer receive messages from Warsaw Centre on E-mail." in html
    assert 'id="unsubscribe-all"' in html
    assert response["Referrer-Policy"] == "no-referrer"
    assert _consents(anna) == {"phone": (True, True), "email": (True, True)}


def test_the_page_speaks_the_customers_language(
    looker: Callable[..., Customer], login_client: Callable[[Staff], Client],
    salesperson: Staff,
) -> None:
    anna = looker(language="pl")
    # Even with an English-speaking staff member signed in on the same browser.
    html = login_client(salesperson).get(f"/u/{unsubscribe_token(anna.pk, 'sms')}")
    text = html.content.decode()
    assert 'lang="pl"' in text
    assert "Nie będziesz już otrzymywać wiadomości od Warsaw Centre przez SMS." in text

    Customer.objects.filter(pk=anna.pk).update(language="ru")
    text = Client().get(f"/u/{unsubscribe_token(anna.pk, 'sms')}").content.decode()
    assert "Вы больше не будете получать сообщения от Warsaw Centre по каналу SMS." in text


def test_confirming_withdraws_that_channel_and_every_offer(
    looker: Callable[..., Customer],
) -> None:
    anna = looker()
    touch = Touch.objects.get(customer=anna)
    response = _csrf_client().post(f"/u/{unsubscribe_token(anna.pk, 'email')}")
    assert response.status_code == 200
    assert (
        "Done: we will not write to you on E-mail any more, Warsaw Centre has ended its "
        "messages to you, and you will get no offers from us on any channel. To hear from us "
        "again, scan the code at the counter of Warsaw Centre or ask our staff."
    ) in response.content.decode()
    # The e-mail may not be written to; no offers reach the phone either (issue 13).
    assert _consents(anna) == {"phone": (True, False), "email": (False, False)}
    events = ConsentEvent.objects.filter(customer=anna, granted=False)
    assert sorted((e.contact_point.kind, e.purpose, e.source) for e in events) == [
        ("email", "contact", "customer"), ("email", "marketing", "customer"),
        ("phone", "marketing", "customer")]
    # A link that names no store (links sent before links named one) ends every chain.
    assert Enrollment.objects.get(customer=anna).state == "exited"
    touch.refresh_from_db()
    assert (touch.state, touch.reason) == ("cancelled", "opt_out")


def test_stop_all_channels_ends_the_chains_and_cancels_queued_touches(
    looker: Callable[..., Customer], login_client: Callable[[Staff], Client],
    manager: Staff,
) -> None:
    anna = looker()
    boris = looker(name="Boris", phone="+48601234567", email="boris@example.pl")
    token = unsubscribe_token(anna.pk, "email")
    response = _csrf_client().post(f"/u/{token}", {"all": "1"})
    assert response.status_code == 200
    assert "Done: you will get no more messages from us on any channel." in \
        response.content.decode()
    assert _consents(anna) == {"phone": (False, False), "email": (False, False)}
    enrollment = Enrollment.objects.get(customer=anna)
    assert (enrollment.state, enrollment.end_reason) == ("exited", "opt_out")
    touch = Touch.objects.get(customer=anna)
    assert (touch.state, touch.reason) == ("cancelled", "opt_out")
    # Nobody else is touched.
    assert _consents(boris) == {"phone": (True, True), "email": (True, True)}
    assert Touch.objects.get(customer=boris).state == "queued"

    page = login_client(manager).get(f"/customers/{anna.pk}/").content.decode()
    assert "<strong>Left a chain</strong>" in page
    assert "Follow-up &lt;b&gt;after&lt;/b&gt; a visit · unsubscribed" in page


def test_rfc8058_one_click_post_needs_no_csrf_token(
    looker: Callable[..., Customer],
) -> None:
    anna = looker(phone=None)  # e-mail only: unsubscribing it leaves nothing to write to
    response = _csrf_client().post(
        f"/u/{unsubscribe_token(anna.pk, 'email')}", "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert _consents(anna) == {"email": (False, False)}
    assert Enrollment.objects.get(customer=anna).state == "exited"
    assert Touch.objects.get(customer=anna).state == "cancelled"


def test_a_second_click_is_harmless(looker: Callable[..., Customer]) -> None:
    anna = looker()
    path = f"/u/{unsubscribe_token(anna.pk, 'sms')}"
    client = _csrf_client()
    assert client.post(path).status_code == 200
    events = ConsentEvent.objects.count()
    rows = TimelineEvent.objects.count()
    second = client.post(path)
    assert second.status_code == 200
    assert "You are unsubscribed" in second.content.decode()
    assert (ConsentEvent.objects.count(), TimelineEvent.objects.count()) == (events, rows)
    assert _consents(anna) == {"phone": (False, False), "email": (True, False)}


def test_a_tampered_token_changes_nothing(looker: Callable[..., Customer]) -> None:
    anna = looker()
    token = unsubscribe_token(anna.pk, "email")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_salt = "eyJjIjoxLCJjaCI6ImVtYWlsIn0:1abc:deadbeef"
    events, rows = ConsentEvent.objects.count(), TimelineEvent.objects.count()
    client = _csrf_client()
    for bad in (tampered, other_salt, "nonsense"):
        for response in (client.get(f"/u/{bad}"), client.post(f"/u/{bad}", {"all": "1"})):
            assert response.status_code == 400
            assert "This link does not work" in response.content.decode()
    assert (ConsentEvent.objects.count(), TimelineEvent.objects.count()) == (events, rows)
    assert _consents(anna) == {"phone": (True, True), "email": (True, True)}
    assert Touch.objects.get(customer=anna).state == "queued"


def test_a_link_for_a_merged_customer_reaches_the_survivor(
    looker: Callable[..., Customer], store: Store,
) -> None:
    anna = looker(email=None)
    # (Not through a second visit: merging two members of one chain is refused today.)
    dup, _ = resolve_customer(store=store, actor=Actor(source="api"), name="Anna N.",
                              contacts=[ContactInput("phone", "+48601234567")],
                              consent=ConsentGrant(contact=True))
    token = unsubscribe_token(dup.pk, "sms")
    merge_customers(anna, dup, Actor(source="admin"))
    assert _csrf_client().post(f"/u/{token}").status_code == 200
    assert {p.value: p.contact_consent for p in ContactPoint.objects.filter(customer=anna)} == {
        "+48501234567": False, "+48601234567": False}


def test_tokens_are_short_signed_and_older_links_still_work() -> None:
    from django.core import signing

    from touchflow.delivery.render import (
        UNSUBSCRIBE_SALT,
        read_unsubscribe_token,
        unsubscribe_token,
    )

    token = unsubscribe_token(42, "sms")
    assert read_unsubscribe_token(token) == (42, "sms") and len(token) < 40
    for forged in (token.replace("42.", "43.", 1), token.replace(".sms.", ".email."),
                   token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(signing.BadSignature):
            read_unsubscribe_token(forged)
    older = signing.dumps({"c": 7, "ch": "email"}, salt=UNSUBSCRIBE_SALT, compress=True)
    assert read_unsubscribe_token(older) == (7, "email")


def test_links_signed_with_hmac_before_the_switch_to_blake2b_still_open() -> None:
    """Links are signed with keyed BLAKE2b now; those already sent (HMAC-SHA256 under
    the same derived key, cut to 22 characters) keep working — signed here
    independently of the code, as they were."""
    import base64
    import hashlib
    import hmac

    from django.conf import settings
    from django.core import signing

    from touchflow.delivery.render import (
        RATING_SALT,
        UNSUBSCRIBE_SALT,
        read_rating_token,
        read_unsubscribe_link,
    )

    def hmac_signed(signed: str, salt: str) -> str:
        key = hashlib.sha256(f"{salt}:{settings.SECRET_KEY}".encode()).digest()
        mac = hmac.new(key, signed.encode(), "sha256").digest()
        return f"{signed}.{base64.urlsafe_b64encode(mac).decode()[:22]}"

    assert unsubscribe_token(42, "sms", 3) != hmac_signed("42.sms.3", UNSUBSCRIBE_SALT)
    assert read_unsubscribe_link(hmac_signed("42.sms.3", UNSUBSCRIBE_SALT)) == (42, "sms", 3)
    assert read_rating_token(hmac_signed("77", RATING_SALT)) == 77
    with pytest.raises(signing.BadSignature):  # each salt its own key, old scheme too
        read_rating_token(hmac_signed("77", UNSUBSCRIBE_SALT))
