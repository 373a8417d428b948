"""The counter screen: each common flow logs exactly the visit it should."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.test import Client

from touchflow.customers.actions import ContactInput
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer, OptInToken
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Category, Role, Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit


def _token(html: str) -> str:
    found = re.search(r'name="optin_token" value="([^"]+)"', html)
    assert found, "the counter form carries an opt-in token"
    return found.group(1)


def _post(client: Client, store: Store, **fields: Any):
    page = client.get("/").content.decode()
    data = {"store": store.pk, "optin_token": _token(page), **fields}
    return client.post("/", data)


def test_counter_page_shows_the_steps_and_reasons_objective_first(
    login_client: Callable[[Staff], Client], salesperson: Staff
) -> None:
    html = login_client(salesperson).get("/").content.decode()
    assert 'id="outcome-bought"' in html
    assert 'id="outcome-not-bought"' in html
    codes = re.findall(r'name="reason" value="([a-z_]+)"', html)
    assert codes == ["credit_refused", "price_difference", "just_looking", "too_pushy",
                     "too_passive", "wrong_sales_tool", "weak_product_knowledge"]
    assert html.index(">Objective<") < html.index(">Seller error<")
    assert 'name="marketing" value="1"' in html
    assert 'name="marketing" value="1" checked' not in html


def test_bought_contacts_taken_with_a_phone_is_type_1(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    page = client.get("/").content.decode()
    token = _token(page)
    response = client.post("/", {"store": store.pk, "optin_token": token, "outcome": "bought",
                                 "contact": "501 234 567", "contact_capture": "taken"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    visit = Visit.objects.get()
    assert (visit.bought, visit.contact_capture, visit.visit_class) == (True, "taken", "type1")
    assert visit.reason is None
    assert visit.staff == salesperson
    assert visit.store == store
    assert visit.source == "counter"
    customer = Customer.objects.get()
    assert visit.customer == customer
    point = ContactPoint.objects.get()
    assert (point.kind, point.value, point.customer) == ("phone", "+48501234567", customer)
    assert (point.contact_consent, point.marketing_consent) == (True, None)
    consent = ConsentEvent.objects.get()
    assert (consent.purpose, consent.granted, consent.source, consent.staff) == (
        "contact", True, "counter", salesperson)
    assert OptInToken.objects.get(token=token).visit == visit
    # The confirmation names the class, and the next form has a fresh token.
    page = client.get("/").content.decode()
    assert f"Saved — Type 1: bought, contacts taken. Customer: customer #{customer.pk}." in page
    assert _token(page) != token


def test_bought_refused_and_not_asked_save_without_a_customer(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    # Whatever was typed before "Refused" was pressed is not a contact the customer gave.
    assert _post(client, store, outcome="bought", contact="501 234 567",
                 contact_capture="refused").status_code == 302
    response = _post(client, store, outcome="bought", contact_capture="not_attempted")
    assert response.status_code == 302
    visits = list(Visit.objects.order_by("id").values_list("bought", "contact_capture",
                                                           "visit_class", "customer"))
    assert visits == [(True, "refused", "type2", None), (True, "not_attempted", "grey", None)]
    assert Customer.objects.count() == 0
    assert ConsentEvent.objects.count() == 0
    assert "Saved — Grey: contacts not asked." in client.get("/").content.decode()


def test_didnt_buy_just_looking_refused_is_type_4(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    response = _post(client, store, outcome="not_bought", reason="just_looking",
                     contact_capture="refused")
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.bought, visit.contact_capture, visit.visit_class) == (False, "refused", "type4")
    assert visit.reason is not None and visit.reason.code == "just_looking"
    assert visit.customer is None
    assert Customer.objects.count() == 0


def test_didnt_buy_with_email_offers_consent_and_extras_is_type_3(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    categories: list[Category],
) -> None:
    client = login_client(salesperson)
    response = _post(client, store, outcome="not_bought", reason="price_difference",
                     contact=" Anna.Nowak@Example.PL ", name="Anna Nowak", marketing="1",
                     categories=["sofas", "tables"], note="Wants a grey corner sofa",
                     contact_capture="taken")
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.bought, visit.contact_capture, visit.visit_class) == (False, "taken", "type3")
    assert visit.reason is not None and visit.reason.code == "price_difference"
    assert visit.categories == ["sofas", "tables"]
    assert visit.note == "Wants a grey corner sofa"
    customer = Customer.objects.get()
    assert (customer.name, visit.customer) == ("Anna Nowak", customer)
    point = ContactPoint.objects.get()
    assert (point.kind, point.value) == ("email", "anna.nowak@example.pl")
    assert (point.contact_consent, point.marketing_consent) == (True, True)
    events = list(ConsentEvent.objects.order_by("purpose").values_list("purpose", "granted",
                                                                       "source"))
    assert events == [("contact", True, "counter"), ("marketing", True, "counter")]


def test_reason_left_ticked_is_ignored_when_bought(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    response = _post(client, store, outcome="bought", reason="just_looking",
                     contact_capture="not_attempted")
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.bought, visit.reason, visit.visit_class) == (True, None, "grey")


def test_bad_phone_saves_nothing_and_shows_the_error_beside_the_field(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    response = _post(client, store, outcome="not_bought", reason="just_looking", contact="12",
                     name="Jan", contact_capture="taken")
    assert response.status_code == 422
    html = response.content.decode()
    field = re.search(r'<input id="contact".*?>', html, re.S)
    assert field is not None
    assert 'value="12"' in field.group(0)
    assert 'aria-invalid="true"' in field.group(0)
    # The error sits right after the field, inside its feedback box.
    after = html[field.end():]
    assert after.lstrip().startswith('<div id="contact-check"')
    assert "This is not a valid phone number." in after[:600]
    # What was tapped and typed stays.
    assert 'value="not_bought" id="outcome-not-bought" checked' in html
    assert 'id="reason-just_looking" checked' in html
    assert 'id="name" name="name" type="text" value="Jan"' in html
    assert Visit.objects.count() == 0
    assert Customer.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


def test_missing_contact_and_missing_outcome_are_errors(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    response = _post(client, store, outcome="bought", contact="", contact_capture="taken")
    assert response.status_code == 422
    assert "Type the customer&#x27;s phone number or e-mail address." in response.content.decode()
    response = _post(client, store, contact_capture="refused")
    assert response.status_code == 422
    assert "Choose whether the customer bought." in response.content.decode()
    response = _post(client, store, outcome="not_bought", contact_capture="refused")
    assert response.status_code == 422
    assert "Choose why the customer did not buy." in response.content.decode()
    assert Visit.objects.count() == 0


def test_contact_check_validates_as_typed(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    client = login_client(salesperson)
    bad = client.post("/counter/contact/", {"store": store.pk, "contact": "50123"})
    assert bad.status_code == 200
    assert 'id="contact-error"' in bad.content.decode()
    assert "This is not a valid phone number." in bad.content.decode()
    bad_mail = client.post("/counter/contact/", {"store": store.pk, "contact": "anna@"})
    assert "This is not a valid e-mail address." in bad_mail.content.decode()
    good = client.post("/counter/contact/", {"store": store.pk, "contact": "+48 501-234-567"})
    assert "New customer: +48501234567" in good.content.decode()
    empty = client.post("/counter/contact/", {"store": store.pk, "contact": ""})
    assert empty.content.decode().strip() == ""


def test_existing_customer_is_offered_and_not_duplicated(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store
) -> None:
    anna, _ = resolve_customer(store=store, actor=Actor(source="api"), name="Anna Nowak",
                               contacts=[ContactInput("phone", "+48501234567")])
    client = login_client(salesperson)
    _post(client, store, outcome="not_bought", reason="just_looking", contact_capture="refused")
    first = Visit.objects.get()
    # Not tied to Anna (refused), so Anna has no visit yet.
    check = client.post("/counter/contact/", {"store": store.pk, "contact": "501 234 567"})
    html = check.content.decode()
    assert "Existing customer: Anna Nowak" in html
    assert "no visits yet" in html
    response = _post(client, store, outcome="bought", contact="501234567", contact_capture="taken")
    assert response.status_code == 302
    visit = Visit.objects.exclude(pk=first.pk).get()
    assert visit.customer == anna
    assert Customer.objects.count() == 1
    assert ContactPoint.objects.count() == 1
    check = client.post("/counter/contact/", {"store": store.pk, "contact": "+48501234567"})
    assert "last visit" in check.content.decode()


def test_another_stores_customer_reads_as_a_new_customer(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_store: Callable[..., Store],
) -> None:
    """Typing reveals nothing another store recorded, not even that the contact is known."""
    other = make_store(name="Kraków", slug="krakow")
    resolve_customer(store=other, actor=Actor(source="api"), name="Secret Person",
                     contacts=[ContactInput("email", "secret@example.com")])
    client = login_client(salesperson)
    html = client.post("/counter/contact/", {"store": store.pk,
                                             "contact": "Secret@Example.com"}).content.decode()
    fresh = client.post("/counter/contact/", {"store": store.pk,
                                              "contact": "nobody@example.com"}).content.decode()
    assert "Secret Person" not in html
    assert html == fresh.replace("nobody@example.com", "secret@example.com")


def test_a_contact_another_store_recorded_does_not_find_our_customer(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_store: Callable[..., Store],
) -> None:
    """Our customer, but the e-mail came from Kraków: typing it says nothing about whose it is."""
    other = make_store(name="Kraków", slug="krakow")
    resolve_customer(store=other, actor=Actor(source="api"), name="Krakow Name",
                     contacts=[ContactInput("email", "shared@example.com"),
                               ContactInput("phone", "+48501234567")])
    resolve_customer(store=store, actor=Actor(source="api"), name="Warsaw Name",
                     contacts=[ContactInput("phone", "+48501234567")])
    client = login_client(salesperson)
    by_email = client.post("/counter/contact/", {"store": store.pk,
                                                 "contact": "shared@example.com"})
    by_phone = client.post("/counter/contact/", {"store": store.pk, "contact": "501234567"})
    assert "contact-ok" in by_email.content.decode()
    assert "Existing customer: Warsaw Name" in by_phone.content.decode()
    assert "Krakow" not in by_email.content.decode() + by_phone.content.decode()


def test_qr_code_shown_only_with_a_telegram_bot(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff],
    make_store: Callable[..., Store],
) -> None:
    with_bot = make_store(telegram_bot="warsaw_bot")
    without = make_store(telegram_bot="")
    html = login_client(make_staff(stores=[with_bot])).get("/").content.decode()
    assert '<svg' in html and 'class="qr"' in html
    token = OptInToken.objects.get(store=with_bot)
    assert f'value="{token.token}"' in html
    html = login_client(make_staff(stores=[without])).get("/").content.decode()
    assert "<svg" not in html
    assert 'name="optin_token"' not in html
    assert OptInToken.objects.filter(store=without).count() == 0


def test_store_picker_only_for_staff_in_several_stores(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
    make_store: Callable[..., Store],
) -> None:
    second = make_store(name="Zakopane", slug="zakopane")
    one = login_client(make_staff(stores=[store])).get("/").content.decode()
    assert 'id="store-picker"' not in one
    client = login_client(make_staff(stores=[store, second]))
    html = client.get("/").content.decode()
    assert 'id="store-picker"' in html
    assert f'name="store" value="{store.pk}"' in html  # first by name: Warsaw Centre < Zakopane
    assert client.post("/counter/store/", {"store": second.pk}).status_code == 302
    html = client.get("/").content.decode()
    assert f'name="store" value="{second.pk}"' in html
    assert _post(client, second, outcome="bought", contact_capture="refused").status_code == 302
    assert Visit.objects.get().store == second


def test_visit_for_a_store_the_staff_does_not_work_in_is_refused(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_store: Callable[..., Store],
) -> None:
    other = make_store()
    client = login_client(salesperson)
    response = _post(client, other, outcome="bought", contact_capture="refused")
    assert response.status_code == 422
    assert "You do not work in this store." in response.content.decode()
    assert Visit.objects.count() == 0


def test_staff_without_a_store_is_told_so(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff]
) -> None:
    html = login_client(make_staff(Role.SALESPERSON, [])).get("/").content.decode()
    assert "You are not assigned to any store yet." in html
    assert 'id="counter-form"' not in html
