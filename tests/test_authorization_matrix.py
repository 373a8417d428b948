"""The authorization matrix: every route × every role × own/other store, 0 leaks.

The routes come from the URL conf (``get_resolver()`` walked) and the API's OpenAPI
document, so a new route cannot be forgotten: one the tables below do not classify
fails ``test_every_route_is_classified`` with a message saying where to add it.
Adding a route is one line in ``WEB``, ``API`` or ``ADMIN_EXTRA``; an admin page of a
newly registered model is classified by its admin class (``AdminOnly`` or
``ManagerEditable``), or by one line in ``ADMIN_MODELS``.

Each cell states what must happen (allowed, 401, 403, 404, a redirect to a login page)
and, when a store-bound viewer (salesperson, manager, store-bound token) is allowed,
that nothing the other store recorded appears in the answer: the other store's
records carry distinctive marker strings (names, phones, e-mails, visit notes, staff
names, external ids, its own name) and the body is searched for every one of them
that the request itself did not send. Every request runs in a savepoint that is
rolled back, so no cell sees another cell's writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.web.conftest import FOLLOW_UP
from touchflow.aftercare.models import Escalation
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer, Referral, ReferralCode
from touchflow.delivery.dead_letters import group_key
from touchflow.delivery.models import CallTask, Touch, TouchState
from touchflow.flows.actions import load_flow_text
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.health.actions import refresh
from touchflow.integrations.actions import create_token
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.admin import AdminOnly, ManagerEditable
from touchflow.stores.models import Category, Role, Staff, Store
from touchflow.visits.models import Reason

ROLES = ("anonymous", "salesperson", "manager", "admin", "store_token", "unbound_token")
STORES = ("own", "other")
SCOPED_ROLES = ("salesperson", "manager", "store_token")
TOKENS = ("store_token", "unbound_token")
STAFF = ("salesperson", "manager", "admin")

START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)

# What only the other store (London) recorded. None may reach a Warsaw viewer.
# (Warsaw typed the shared customer's e-mail itself, so that one is Warsaw's to see.)
MARKERS = (
    "Londinium", "london-store", "Lorna", "Ldnmarker", "+447911123456", "LDNNOTE",
    "Ldnstaffer", "Markerson", "ldnstaffuser", "LDN-EXT-9", "LDN-INV-7", "Lucius", "Ldnonly",
    "ldn-only@example.com", "+447911123789", "LDNERR", "ldnbot", "LDNCOMPLAINT", "LDNCODE2",
)


# -- the world: Warsaw (own) and London (other), one person known to both -----------------

@dataclass
class World:
    own: Store
    other: Store
    staff: dict[str, Staff]
    secrets: dict[str, str]
    shared: Customer  # London's customer first; Warsaw met them later with its own phone
    london_only: Customer
    warsaw_only: Customer
    tasks: dict[str, CallTask]
    dead: dict[str, Touch]
    escalations: dict[str, Escalation]
    referrals: dict[str, Referral]
    reason: Reason
    category: Category
    ids: dict[str, Any] = field(default_factory=dict)


def _visit(store: Store, staff: Staff, bought: bool, contacts: list[ContactInput],
           name: str, note: str = "") -> Customer:
    visit, _ = log_visit(
        store=store, actor=Actor(source="counter", staff=staff), bought=bought,
        reason=None if bought else "just_looking", contact_capture="taken",
        contacts=contacts, name=name, note=note,
        consent=ConsentGrant(contact=True, marketing=True),
    )
    assert visit.customer is not None
    return visit.customer


def _task(customer: Customer, store: Store, assignee: Staff, phone: str,
          touch_of: Customer | None = None) -> CallTask:
    touch = Touch.objects.filter(customer=touch_of or customer, store=store).first()
    assert touch is not None
    return CallTask.objects.create(touch=touch, customer=customer, store=store,
                                   assignee=assignee, phone=phone, script="Call them.",
                                   due_at=START)


def _dead(customer: Customer, store: Store, error: str) -> Touch:
    touch = Touch.objects.filter(customer=customer, store=store, task__isnull=True).first()
    assert touch is not None
    Touch.objects.filter(pk=touch.pk).update(state=TouchState.DEAD, finished_at=START,
                                             last_error=error)
    return touch


def _escalation(customer: Customer, store: Store, text: str) -> Escalation:
    touch = Touch.objects.filter(customer=customer, store=store).first()
    assert touch is not None
    return Escalation.objects.create(customer=customer, store=store, touch=touch,
                                     reason="complaint", text=text, opened_at=START,
                                     due_at=START)


def _referral(referrer: Customer, referred: Customer, store: Store, code: str) -> Referral:
    made = ReferralCode.objects.create(customer=referrer, store=store, code=code,
                                       created_at=START)
    return Referral.objects.create(code=made, referrer=referrer, referred=referred,
                                   store=store, via="link", state="held",
                                   reason="many_in_a_day", at=START)


def build_world() -> World:
    own = Store.objects.create(name="Warsaw Centre", slug="warsaw", country="PL",
                               time_zone="Europe/Warsaw", language="pl", currency="PLN")
    other = Store.objects.create(name="Londinium", slug="london-store", country="GB",
                                 time_zone="Europe/London", language="en", currency="GBP")
    staff = {
        "salesperson": _staff("wanda", Role.SALESPERSON, [own], "Wanda"),
        "manager": _staff("wiesia", Role.MANAGER, [own], "Wiesia"),
        "admin": _staff("root", Role.ADMIN, [], "Ada"),
        "london": _staff("ldnstaffuser", Role.SALESPERSON, [other], "Ldnstaffer", "Markerson"),
    }
    _token, store_secret = create_token("warsaw-pos", store=own)
    _token, unbound_secret = create_token("head-office")
    set_status(load_flow_text(FOLLOW_UP, "flows/follow-up.yaml").flow, "active")

    london = staff["london"]
    shared = _visit(other, london, False, [ContactInput("phone", "+447911123456"),
                                           ContactInput("email", "ldn-marker@example.com")],
                    "Lorna Ldnmarker", "LDNNOTE shared")
    resolve_customer(store=other, actor=Actor(source="api"), external_id="LDN-EXT-9",
                     contacts=[ContactInput("phone", "+447911123456")])
    record_purchase(store=other, actor=Actor(source="api"), customer=shared,
                    amount=Decimal("12.00"), external_id="LDN-INV-7")
    # Warsaw meets the same person: the e-mail they give finds London's customer.
    _visit(own, staff["salesperson"], True, [ContactInput("phone", "+48501234567"),
                                             ContactInput("email", "ldn-marker@example.com")],
           "Wiktor Wspolny", "warsaw note")
    london_only = _visit(other, london, False, [ContactInput("phone", "+447911123789"),
                                                ContactInput("email", "ldn-only@example.com")],
                         "Lucius Ldnonly", "LDNNOTE only")
    warsaw_only = _visit(own, staff["salesperson"], False,
                         [ContactInput("phone", "+48501234999")], "Wera Wlasna")
    second = _visit(own, staff["salesperson"], False, [ContactInput("phone", "+48501234888")],
                    "Wladyslaw Drugi")
    # Warsaw's call to the shared person, on the phone London took (the engine may pick
    # any consenting contact): the inbox must not show that phone to Warsaw.
    tasks = {"own": _task(shared, own, staff["salesperson"], "+447911123456",
                          touch_of=warsaw_only),
             "other": _task(london_only, other, london, "+447911123789")}
    dead = {"own": _dead(second, own, "warsaw failure"), "other": _dead(shared, other, "LDNERR")}
    escalations = {"own": _escalation(warsaw_only, own, "warsaw complaint"),
                   "other": _escalation(london_only, other, "LDNCOMPLAINT")}
    referrals = {"own": _referral(warsaw_only, second, own, "WARSAW22"),
                 "other": _referral(london_only, shared, other, "LDNCODE2")}
    category = Category.objects.create(slug="phones", name_en="Phones")
    account = ChannelAccount(store=other, provider="telegram", handle="ldnbot")
    account.credentials = {"token": "123:abc"}
    account.save()
    accounts.forget()
    Group.objects.create(name="auditors")
    Reason.objects.create(code="own_reason", kind="objective", label_en="Our own reason")
    # Relationship health: each store's own-only customer bought every 10 days before
    # their visit (before the chain, which goes on), so by the refresh's day, two months
    # on, everybody is cold in the stores' /cold/ lists and on the customer cards.
    for store, regular in ((own, warsaw_only), (other, london_only)):
        for days in (30, 20, 10):
            record_purchase(store=store, actor=Actor(source="api"), customer=regular,
                            amount=Decimal("5.00"), occurred_at=START - timedelta(days=days))
        refresh(store, START.date() + timedelta(days=60))
    return World(own=own, other=other, staff=staff,
                 secrets={"store_token": store_secret, "unbound_token": unbound_secret},
                 shared=shared, london_only=london_only, warsaw_only=warsaw_only, tasks=tasks,
                 dead=dead, escalations=escalations, referrals=referrals,
                 reason=Reason.objects.get(code="own_reason"),
                 category=category)


def _staff(username: str, role: str, stores: list[Store], first: str, last: str = "") -> Staff:
    person = Staff.objects.create_user(username=username, password="pw-12345678", role=role,
                                       first_name=first, last_name=last)
    person.stores.set(stores)
    return person


# -- the classification: one line per route ------------------------------------------------

# Who may use a route: "public" (anyone), "staff" (signed-in staff), "manager" (managers
# and admins), "admin" (admins), "token" (API bearer token), "unbound_token" (an API
# token bound to no store), "admin_staff" (Django admin: managers and admins),
# "admin_only" (Django admin: admins).
# ``scoped``: the other store's object is refused to a store-bound viewer (``refused``).

Request = Callable[[World, str], tuple[str, str, dict[str, Any] | None]]


@dataclass(frozen=True)
class Rule:
    policy: str
    request: Request
    allowed: tuple[int, ...] = (200,)
    scoped: bool = False
    refused: int = 404


def get(path: str | Callable[[World, str], str]) -> Request:
    return lambda w, which: ("GET", path(w, which) if callable(path) else path, None)


def post(path: str | Callable[[World, str], str],
         data: Callable[[World, str], dict[str, Any]] | None = None) -> Request:
    return lambda w, which: ("POST", path(w, which) if callable(path) else path,
                             data(w, which) if data else {})


def pick(own: Callable[[World], Any], other: Callable[[World], Any]) -> Callable[[World, str],
                                                                                 Any]:
    return lambda w, which: own(w) if which == "own" else other(w)


def _customer(w: World, which: str) -> int:
    """Own: the person both stores know (London's records on them must stay hidden)."""
    return w.shared.pk if which == "own" else w.london_only.pk


def _counter(w: World, which: str) -> dict[str, Any]:
    return {"store": (w.own if which == "own" else w.other).pk, "outcome": "not_bought",
            "reason": "just_looking", "contact_capture": "not_attempted"}


WEB: dict[str, list[Rule]] = {
    "web:home": [
        Rule("staff", get("/")),
        Rule("staff", post("/", _counter), allowed=(302,), scoped=True, refused=422),
    ],
    "web:contact-check": [Rule("staff", post("/counter/contact/", lambda w, which: {
        "store": w.own.pk,
        "contact": "+48501234567" if which == "own" else "+447911123456"}))],
    "web:switch-store": [Rule("staff", post("/counter/store/", lambda w, which: {
        "store": (w.own if which == "own" else w.other).pk}), allowed=(302,))],
    # Another store's figures or visits asked for by id: the filter is refused (said on
    # the page) and the viewer's own stores are shown; the other store's markers stay out.
    "web:dashboard": [Rule("staff", get(pick(lambda w: "/dashboard/",
                                             lambda w: f"/dashboard/?store={w.other.pk}")))],
    "web:visits": [Rule("staff", get(pick(lambda w: "/visits/?since=2020-01-01",
                                          lambda w: f"/visits/?store={w.other.pk}"
                                                    "&since=2020-01-01")))],
    "web:customers": [Rule("staff", get(pick(lambda w: "/customers/",
                                             lambda w: "/customers/?q=%2B447911123456"))),
                      # The CSV of every filter; the other store or its seller asked for
                      # by id is refused by name (400), nothing of theirs shown.
                      Rule("staff", get(pick(
                          lambda w: "/customers/?csv=1&cold=any&sort=last_visit",
                          lambda w: f"/customers/?csv=1&store={w.other.pk}"
                                    f"&seller={w.staff['london'].pk}&visit_class=type3"
                                    "&chain=follow-up&tag=vip")), allowed=(200, 400))],
    "web:customer": [Rule("staff", get(lambda w, which: f"/customers/{_customer(w, which)}/"),
                          scoped=True)],
    "web:customer_reply": [Rule("staff", post(
        lambda w, which: f"/customers/{_customer(w, which)}/reply",
        lambda w, which: {"channel": "telegram", "text": ""}), allowed=(400,), scoped=True)],
    "web:chains": [Rule("manager", get("/chains/"))],
    "web:chain-sms-size": [Rule("manager", post("/chains/sms-size/",
                                                lambda w, which: {"text": "Hi"}))],
    "web:chain": [Rule("manager", get("/chains/follow-up/"))],
    # The chain editor (issue 12): chains are the business's, a manager's to change.
    "web:chain-new": [Rule("manager", get("/chains/new/"))],
    "web:chain-preview": [Rule("manager", post("/chains/preview/",
                                               lambda w, which: {"text": "Hi"}))],
    "web:chain-import": [Rule("manager", post("/chains/import/"), allowed=(302,))],
    "web:chain-edit": [Rule("manager", get("/chains/follow-up/edit/"))],
    "web:chain-versions": [Rule("manager", get("/chains/follow-up/versions/"))],
    "web:chain-activate": [Rule("manager", get("/chains/follow-up/versions/1/activate/"))],
    "web:chain-export": [Rule("manager", get("/chains/follow-up/export.yaml"))],
    "web:chain-status": [Rule("manager", post("/chains/follow-up/status/",
                                              lambda w, which: {"status": "active"}),
                              allowed=(302,))],
    # Another store asked for by id: the filter is refused (said on the page), own shown.
    "web:tasks": [Rule("staff", get(pick(lambda w: "/tasks/?when=all",
                                         lambda w: f"/tasks/?when=all&store={w.other.pk}")))],
    # No result chosen: the task stays open, the inbox says so (302); another store's: 404.
    "web:task-done": [Rule("staff", post(lambda w, which: f"/tasks/{w.tasks[which].pk}/done/",
                                         lambda w, which: {"result": ""}),
                           allowed=(302,), scoped=True)],
    # No time chosen: refused beside the field, the inbox shown again (422); another's: 404.
    "web:task-later": [Rule("staff", post(lambda w, which: f"/tasks/{w.tasks[which].pk}/later/",
                                          lambda w, which: {"later": "at", "when": ""}),
                            allowed=(422,), scoped=True)],
    "web:dead-letters": [Rule("manager", get("/dead-letters/"))],
    # A group is named by its normalised reason: London's "LDNERR" is no Warsaw group.
    "web:dead-letter-group": [Rule("manager", get(pick(
        lambda w: f"/dead-letters/group/{group_key('dead', 'warsaw failure')}/",
        lambda w: f"/dead-letters/group/{group_key('dead', 'LDNERR')}/")), scoped=True)],
    "web:dead-letter-retry": [Rule("manager", post(
        lambda w, which: f"/dead-letters/{w.dead[which].pk}/retry/"), allowed=(302,),
        scoped=True)],
    "web:escalations": [Rule("manager", get("/escalations/"))],
    # No resolution chosen: it stays open (302 back to the list); another store's: 404.
    "web:escalation-resolve": [Rule("manager", post(
        lambda w, which: f"/escalations/{w.escalations[which].pk}/resolve/",
        lambda w, which: {"resolution": ""}), allowed=(302,), scoped=True)],
    "web:referrals": [Rule("manager", get("/referrals/"))],
    "web:referral-decide": [Rule("manager", post(
        lambda w, which: f"/referrals/{w.referrals[which].pk}/decide/",
        lambda w, which: {"count": "0"}), allowed=(302,), scoped=True)],
    # Customers going cold: another store's list or segment is refused (404).
    "web:cold": [Rule("manager", get(pick(lambda w: "/cold/?segment=buyers",
                                          lambda w: "/cold/?store=london-store")),
                      scoped=True)],
    "web:cold-enrol": [Rule("manager", post("/cold/enrol/", lambda w, which: {
        "store": "warsaw" if which == "own" else "london-store", "segment": "buyers",
        "chain": "follow-up"}), allowed=(302,), scoped=True)],
    # Signed links for the customer: a forged token is refused to everybody.
    "web:unsubscribe": [Rule("public", get("/u/forged-token"), allowed=(400,))],
    "web:rating": [Rule("public", get("/r/1.forged-token-forged-token-"), allowed=(400,))],
    # A referral code is meant to be shared: its page is public; an unknown one is 404.
    "web:referral": [Rule("public", get("/ref/NOSUCHCODE"), allowed=(404,))],
    "web:review-link": [Rule("public", get("/go/1.forged-token-forged-token-"),
                             allowed=(400,))],
    "web:profile": [Rule("staff", get("/profile/"))],
    # A privacy export covers every store the person dealt with: admins only (0012).
    "web:customer-export": [Rule("admin", get(
        lambda w, which: f"/customers/{_customer(w, which)}/export"))],
    "web:customer-export-json": [Rule("admin", get(
        lambda w, which: f"/customers/{_customer(w, which)}/export.json"))],
    "web:login": [Rule("public", get("/login/"), allowed=(200, 302))],
    "web:logout": [Rule("public", post("/logout/"), allowed=(302,))],
    # Provider webhooks are verified by their key and signature, never by a session.
    "webhook": [Rule("public", post("/hooks/telegram/no-such-key/"), allowed=(404,))],
}


def _json(body: Callable[[World, str], dict[str, Any]]) -> Callable[[World, str],
                                                                    dict[str, Any]]:
    return lambda w, which: {"__json__": body(w, which)}


API: dict[str, list[Rule]] = {
    "POST /api/v1/visits": [Rule("token", post("/api/v1/visits", _json(lambda w, which: {
        "store": "warsaw", "bought": False, "reason": "just_looking",
        "contact_capture": "taken", "customer": {"id": _customer(w, which)}})),
        allowed=(201,), scoped=True)],
    "POST /api/v1/purchases": [Rule("token", post("/api/v1/purchases", _json(
        lambda w, which: {"store": "warsaw", "customer_id": _customer(w, which),
                          "amount": "10.00"})), allowed=(201,), scoped=True)],
    # Another store's customer's e-mail: found and linked, but nothing of London's told.
    "POST /api/v1/customers": [Rule("token", post("/api/v1/customers", _json(
        lambda w, which: {"store": "warsaw", "name": "Given Here",
                          **({"phone": "+48501234567"} if which == "own"
                             else {"phone": "+447911123456"})})),
        allowed=(200, 201))],
    "GET /api/v1/customers": [Rule("token", get(pick(
        lambda w: "/api/v1/customers?phone=%2B48501234567",
        lambda w: "/api/v1/customers?phone=%2B447911123456")))],
    "GET /api/v1/customers/{customer_id}": [Rule("token", get(
        lambda w, which: f"/api/v1/customers/{_customer(w, which)}"), scoped=True)],
    "GET /api/v1/reasons": [Rule("token", get("/api/v1/reasons"))],
    # Privacy requests reach every store's records: a token bound to none (0012).
    "GET /api/v1/customers/{customer_id}/export": [Rule("unbound_token", get(
        lambda w, which: f"/api/v1/customers/{_customer(w, which)}/export"))],
    "POST /api/v1/customers/{customer_id}/erase": [Rule("unbound_token", post(
        lambda w, which: f"/api/v1/customers/{_customer(w, which)}/erase"))],
    "GET /api/v1/categories": [Rule("token", get("/api/v1/categories"))],
}

# URL patterns under /api/v1/ that are not operations of the OpenAPI document.
API_EXTRA: dict[str, list[Rule]] = {
    "api:openapi-json": [Rule("public", get("/api/v1/openapi.json"))],
    "api:openapi-view": [Rule("public", get("/api/v1/docs"))],
    "api:unknown_path": [Rule("public", get("/api/v1/no-such-thing"), allowed=(404,))],
    "api:root": [Rule("public", get("/api/v1/"), allowed=(404,))],
    "api:api-root": [Rule("public", get("/api/v1/"), allowed=(404,))],
}

# Django admin pages that are not a model's.
ADMIN_EXTRA: dict[str, list[Rule]] = {
    "admin:index": [Rule("admin_staff", get("/admin/"))],
    "admin:login": [Rule("public", get("/admin/login/"), allowed=(200, 302))],
    "admin:logout": [Rule("public", post("/admin/logout/"), allowed=(302,))],
    "admin:password_change": [Rule("admin_staff", get("/admin/password_change/"))],
    "admin:password_change_done": [Rule("admin_staff", get("/admin/password_change/done/"))],
    # Asked without a field, the view refuses the request itself.
    "admin:autocomplete": [Rule("admin_staff", get("/admin/autocomplete/"), allowed=(403,))],
    "admin:jsi18n": [Rule("admin_staff", get("/admin/jsi18n/"))],
    "admin:view_on_site": [Rule("admin_staff", get(lambda w, which: (
        f"/admin/r/{ContentType.objects.get_for_model(Store).pk}/{w.own.pk}/")),
        allowed=(404,))],
    "admin:app_list": [Rule("admin_staff", get("/admin/visits/"))],
    "admin:catch_all": [Rule("admin_staff", get("/admin/no-such-page/"), allowed=(404,))],
    "admin:auth_user_password_change": [Rule("admin_only", get(
        lambda w, which: f"/admin/stores/staff/{w.staff['london'].pk}/password/"))],
}

# Models whose admin is neither AdminOnly nor ManagerEditable: Django's own permissions
# apply, and no role but admin holds any.
ADMIN_MODELS = {"auth.group": "admin_only"}

# Pages a model's admin refuses to everybody who may otherwise use it.
ADMIN_REFUSED = {
    "admin:integrations_apitoken_add": "tokens are created with `touchflow token create`",
    "admin:visits_reason_delete": "reasons are retired (unticked), never deleted",
}

ADMIN_VIEWS = {"changelist": "", "add": "add/", "history": "{id}/history/",
               "delete": "{id}/delete/", "change": "{id}/change/", "view": "{id}/"}


def _admin_object(w: World, model: Any, which: str) -> int:
    objects: dict[Any, Callable[[], int]] = {
        Store: lambda: (w.own if which == "own" else w.other).pk,
        Staff: lambda: w.staff["salesperson" if which == "own" else "london"].pk,
        Reason: lambda: w.reason.pk,
        Category: lambda: w.category.pk,
        Group: lambda: Group.objects.get(name="auditors").pk,
    }
    first = model._default_manager.order_by("pk").first()
    return objects.get(model, lambda: first.pk if first else 999_999)()


def admin_model_rules() -> dict[str, list[Rule]]:
    """One rule per page of every registered model, classified by its admin class."""
    rules: dict[str, list[Rule]] = {}
    for model, model_admin in admin.site._registry.items():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        if isinstance(model_admin, ManagerEditable):
            policy = "admin_staff"
        elif isinstance(model_admin, AdminOnly):
            policy = "admin_only"
        elif label in ADMIN_MODELS:
            policy = ADMIN_MODELS[label]
        else:
            continue  # left unclassified: test_every_route_is_classified names it
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for view, suffix in ADMIN_VIEWS.items():
            name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"

            def path(w: World, which: str, suffix: str = suffix, model: type = model,
                     base: str = base) -> str:
                return base + suffix.format(id=_admin_object(w, model, which))

            if view == "view":
                # The bare object URL redirects any admin user to the change page,
                # which then applies the model's rule.
                rules[name] = [Rule("admin_staff", get(path), allowed=(302,))]
            else:
                allowed = (403,) if name in ADMIN_REFUSED else (200,)
                rules[name] = [Rule(policy, get(path), allowed=allowed)]
    return rules


def every_rule() -> dict[str, list[Rule]]:
    return {**WEB, **API, **API_EXTRA, **ADMIN_EXTRA, **admin_model_rules()}


# -- what the URL conf and the OpenAPI document say exists ---------------------------------

def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None
          ) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern),
                             pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), _route_name(pattern, prefix, namespace)


def _route_name(pattern: URLPattern, prefix: str, namespace: str | None) -> str:
    name = pattern.name
    if name is None:
        # Django admin's unnamed patterns: a model's bare object URL, the catch-all.
        route = prefix + str(pattern.pattern)
        if route.endswith("<path:object_id>/"):
            app, model = route.split("/")[1:3]
            name = f"{app}_{model}_view"
        else:
            name = getattr(pattern.callback, "__name__", "unnamed").removesuffix("_view")
    return f"{namespace}:{name}" if namespace else name


def url_routes() -> dict[str, str]:
    """Route name → its pattern, for every URL the project answers."""
    return {name: route for route, name in _walk(get_resolver().url_patterns)}


def openapi_operations(client: Client) -> set[str]:
    document = client.get("/api/v1/openapi.json").json()
    return {f"{method.upper()} /api/v1{path.removeprefix('/api/v1')}"
            for path, operations in document["paths"].items() for method in operations}


def _api_path(route: str) -> str:
    """``api/v1/customers/<customer_id>`` → ``/api/v1/customers/{customer_id}``."""
    return "/" + route.replace("<", "{").replace(">", "}")


def unclassified(rules: dict[str, list[Rule]], operations: set[str]) -> list[str]:
    """Routes of the URL conf and operations of the OpenAPI document without a rule.

    A URL pattern of an OpenAPI operation is classified by the operation's line."""
    paths = {op.split(" ", 1)[1] for op in operations}
    missing = [f"{name} ({route})" for name, route in sorted(url_routes().items())
               if name not in rules and _api_path(route) not in paths]
    return missing + [op for op in sorted(operations) if op not in rules]


def present_rules() -> dict[str, list[Rule]]:
    """The rules of the routes this URL conf has (a line may be written ahead of its
    route, e.g. by a branch not merged yet)."""
    present = set(url_routes()) | openapi_operations(Client())
    return {name: rules for name, rules in every_rule().items() if name in present}


def test_every_route_is_classified(db: None) -> None:
    missing = unclassified(every_rule(), openapi_operations(Client()))
    assert not missing, (
        "Routes the authorization matrix does not classify: add one line for each to "
        "WEB, API, API_EXTRA or ADMIN_EXTRA (or ADMIN_MODELS) in "
        f"tests/test_authorization_matrix.py: {missing}"
    )


def test_a_route_left_out_is_named(db: None) -> None:
    """What a new route or operation without a line in the tables looks like."""
    rules = every_rule()
    del rules["web:profile"], rules["GET /api/v1/reasons"]
    operations = openapi_operations(Client()) | {"DELETE /api/v1/customers/{customer_id}"}
    assert unclassified(rules, operations) == [
        "web:profile (profile/)", "DELETE /api/v1/customers/{customer_id}",
        "GET /api/v1/reasons",
    ]


# -- what each cell must answer --------------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    statuses: tuple[int, ...]
    login: str = ""  # a redirect to this login page
    check_leaks: bool = False


def expect(rule: Rule, role: str, which: str) -> Expect:
    if rule.policy == "public":
        return Expect(rule.allowed, check_leaks=role in SCOPED_ROLES)
    if rule.policy == "token":
        if role not in TOKENS:
            return Expect((401,))
    elif rule.policy == "unbound_token":
        if role not in TOKENS:
            return Expect((401,))
        if role == "store_token":
            return Expect((403,), check_leaks=True)
    elif rule.policy in ("staff", "manager", "admin"):
        if role not in STAFF:
            return Expect((302,), login="/login/")
        if rule.policy == "manager" and role == "salesperson":
            return Expect((403,))
        if rule.policy == "admin" and role != "admin":
            return Expect((403,), check_leaks=True)
    elif rule.policy in ("admin_staff", "admin_only"):
        if role not in ("manager", "admin"):
            return Expect((302,), login="/admin/login/")
        if rule.policy == "admin_only" and role == "manager":
            return Expect((403,))
    if rule.scoped and which == "other" and role in SCOPED_ROLES:
        return Expect((rule.refused,), check_leaks=True)
    return Expect(rule.allowed, check_leaks=role in SCOPED_ROLES)


def _client(role: str, base: dict[str, SimpleCookie], world: World) -> Client:
    """A fresh client per request: a logout in one cell must not sign out the next."""
    headers = {"Authorization": f"Bearer {world.secrets[role]}"} if role in TOKENS else {}
    client = Client(headers=headers)
    if role in base:
        client.cookies = SimpleCookie(base[role].output(header="", sep=";"))
    return client


def _send(client: Client, method: str, path: str, data: dict[str, Any] | None) -> Any:
    with transaction.atomic():
        if data and "__json__" in data:
            response = client.generic(method, path, json.dumps(data["__json__"]),
                                      content_type="application/json")
        elif method == "POST":
            response = client.post(path, data or {})
        else:
            response = client.get(path)
        if getattr(response, "streaming", False):  # read while its rows are there
            response.body = b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response


def _leaks(response: Any, sent: str) -> list[str]:
    content = response.body if getattr(response, "streaming", False) else response.content
    body = content.decode(errors="replace") + response.get("Location", "")
    return [m for m in MARKERS if m.lower() in body.lower() and m.lower() not in sent.lower()]


@pytest.fixture
def world(db: None) -> Iterator[World]:
    with time_machine.travel(START, tick=False):
        yield build_world()
    accounts.forget()


def test_authorization_matrix(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    base: dict[str, SimpleCookie] = {}
    for role in STAFF:
        client = Client()
        client.force_login(world.staff[role])
        base[role] = client.cookies
    rules = present_rules()
    failures: list[str] = []
    answers: dict[tuple[str, str, str, str], Any] = {}
    cells = 0
    for name, route_rules in sorted(rules.items()):
        for rule in route_rules:
            for role in ROLES:
                for which in STORES:
                    cells += 1
                    method, path, data = rule.request(world, which)
                    want = expect(rule, role, which)
                    key = (role, method, path, json.dumps(data, sort_keys=True))
                    if key not in answers:  # a route without a store makes one request
                        answers[key] = _send(_client(role, base, world), method, path, data)
                    response = answers[key]
                    cell = f"{name} {method} {path} as {role} ({which} store)"
                    if response.status_code not in want.statuses:
                        failures.append(f"{cell}: {response.status_code}, "
                                        f"expected {want.statuses}")
                        continue
                    if want.login and not response["Location"].startswith(want.login):
                        failures.append(f"{cell}: redirected to {response['Location']}")
                    if want.check_leaks:
                        leaked = _leaks(response, unquote(path) + json.dumps(data or {}))
                        if leaked:
                            failures.append(f"{cell}: shows the other store's {leaked}")
    routes = sum(len(r) for r in rules.values())
    with capsys.disabled():
        print(f"\nauthorization matrix: {routes} routes × {len(ROLES)} roles × "
              f"{len(STORES)} stores = {cells} cells, {len(failures)} failures")
    assert cells == routes * len(ROLES) * len(STORES)
    assert not failures, "\n".join(failures)


def test_the_leak_check_can_fail(world: World) -> None:
    """The markers are really in the database: an admin's page of the shared customer
    shows London's records, so the same search on a Warsaw viewer's page means something."""
    client = Client()
    client.force_login(world.staff["admin"])
    response = client.get(f"/customers/{world.shared.pk}/")
    assert set(_leaks(response, "")) >= {"+447911123456", "Ldnstaffer", "Markerson",
                                         "Londinium"}
    api = Client(headers={"Authorization": f"Bearer {world.secrets['unbound_token']}"})
    response = api.get(f"/api/v1/customers/{world.shared.pk}")
    assert set(_leaks(response, "")) >= {"Lorna", "Ldnmarker", "+447911123456", "LDN-EXT-9",
                                         "LDN-INV-7", "london-store", "ldnstaffuser"}
