"""Every web form answers junk with a message, never a 500: NUL bytes (PostgreSQL cannot
store them), control characters, input far over the API's limits, numbers too large
for a database integer, markup and quotes — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tests.web.conftest import Clock
from touchflow.core import text
from touchflow.customers.models import Customer
from touchflow.delivery.models import CallTask
from touchflow.integrations.actions import create_token
from touchflow.stores.models import Staff, Store
from touchflow.visits.models import Visit

JUNK = {
    "nul": "Ann\x00a",
    "control": "Ann\x01\x1b[2J",
    "overlong": "x" * 100_000,
    "huge_number": "9" * 40,
    "negative": "-1",
    "markup": "<script>alert(1)</script>",
    "quotes": "' OR 1=1 --\"",
    "emoji": "😀" * 70,
}


@dataclass(frozen=True)
class Form:
    method: str
    path: str
    data: dict[str, Any]
    manager: bool = False


def _forms(store: Store, customer: Customer, task: CallTask) -> dict[str, Form]:
    counter = {"outcome": "not_bought", "reason": "just_looking", "contact_capture": "taken",
               "contact": "+48501234999", "name": "Ann", "note": "", "categories": "",
               "marketing": "1", "optin_token": "", "store": str(store.pk)}
    return {
        "counter": Form("post", "/", counter),
        "contact_check": Form("post", "/counter/contact/", {"contact": "+4850", "store": store.pk}),
        "switch_store": Form("post", "/counter/store/", {"store": store.pk}),
        "customers": Form("get", "/customers/", {"q": "Anna", "page": "1"}),
        "reply": Form("post", f"/customers/{customer.pk}/reply", {"channel": "sms",
                                                                   "text": "Hello"}),
        "task": Form("post", f"/tasks/{task.pk}/done/", {"result": "reached", "note": "ok"}),
        "profile": Form("post", "/profile/", {"language": "en"}),
        "chain_status": Form("post", "/chains/follow-up/status/", {"status": "paused"},
                             manager=True),
        "sms_size": Form("post", "/chains/sms-size/", {"language": "en", "text": "Hi"},
                         manager=True),
        "dead_letters": Form("get", "/dead-letters/", {"page": "1"}, manager=True),
    }


CASES = [
    ("counter", f) for f in ("outcome", "reason", "contact", "name", "categories", "note",
                             "contact_capture", "optin_token", "store", "marketing")
] + [
    ("contact_check", "contact"), ("contact_check", "store"), ("switch_store", "store"),
    ("customers", "q"), ("customers", "page"), ("reply", "channel"), ("reply", "text"),
    ("task", "result"), ("task", "note"), ("profile", "language"),
    ("chain_status", "status"), ("sms_size", "language"), ("sms_size", "text"),
    ("dead_letters", "page"),
]


@pytest.fixture
def scene(salesperson: Staff, manager: Staff, store: Store, looker: Callable[..., Customer],
          web_clock: Clock, dispatch: Callable[[], None]) -> dict[str, Any]:
    anna = looker()
    web_clock.advance(hours=1)
    dispatch()
    web_clock.advance(hours=1)
    dispatch()
    return {"forms": _forms(store, anna, CallTask.objects.get())}


@pytest.mark.parametrize("junk", list(JUNK))
@pytest.mark.parametrize(("form", "field"), CASES)
def test_junk_in_any_field_of_any_form_is_answered_not_a_500(
    scene: dict[str, Any], login_client: Callable[[Staff], Client], salesperson: Staff,
    manager: Staff, form: str, field: str, junk: str,
) -> None:
    spec: Form = scene["forms"][form]
    client = login_client(manager if spec.manager else salesperson)
    data = {**spec.data, field: JUNK[junk]}
    response = getattr(client, spec.method)(spec.path, data)
    assert response.status_code < 500


@pytest.mark.parametrize("junk", list(JUNK))
@pytest.mark.parametrize("field", ["username", "password", "next"])
def test_junk_at_sign_in_is_answered_not_a_500(salesperson: Staff, field: str,
                                               junk: str) -> None:
    data = {"username": "sam", "password": "wrong", "next": "/", field: JUNK[junk]}
    response = Client().post("/login/", data)
    assert response.status_code in (200, 302)
    if field == "username":
        assert "_auth_user_id" not in Client().session


COUNTER = {"outcome": "not_bought", "reason": "just_looking", "contact_capture": "taken",
           "contact": "+48501234999", "name": "Ann", "note": ""}


def _field_error_after(html: str, element_id: str) -> str:
    """The text of the first field error that follows the element with ``element_id``."""
    tail = html[html.index(f'id="{element_id}"'):]
    start = tail.index('class="field-error"')
    return tail[tail.index(">", start) + 1:tail.index("</p>", start)]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("name", "Ann\x00a", "This text contains control characters that cannot be saved"),
    ("note", "a\x00b", "This text contains control characters that cannot be saved"),
    ("note", "x" * 100_000, f"At most {text.NOTE} characters, please."),
    ("note", "x" * (text.NOTE + 1), f"At most {text.NOTE} characters, please."),
    ("name", "x" * (text.NAME + 1), f"At most {text.NAME} characters, please."),
])
def test_the_counter_says_what_is_wrong_beside_the_field_and_saves_nothing(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    field: str, value: str, expected: str,
) -> None:
    response = login_client(salesperson).post("/", {**COUNTER, "store": store.pk, field: value})
    assert response.status_code == 422
    assert _field_error_after(response.content.decode(), field).startswith(expected)
    assert Visit.objects.count() == 0


def test_the_counter_keeps_a_note_as_long_as_the_api_allows(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
) -> None:
    data = {**COUNTER, "store": store.pk, "note": "x" * text.NOTE, "name": "y" * text.NAME}
    response = login_client(salesperson).post("/", data)
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (len(visit.note), len(visit.customer.name)) == (text.NOTE, text.NAME)


def test_the_api_refuses_the_same_note_the_counter_refuses(
    login_client: Callable[[Staff], Client], store: Store, salesperson: Staff,
) -> None:
    secret = create_token("till", store=store)[1]
    body = {"staff": "sam", "bought": True, "contact_capture": "not_attempted"}
    api = Client()

    def post(note: str) -> Any:
        return api.post("/api/v1/visits", data=json.dumps({**body, "note": note}),
                        content_type="application/json",
                        headers={"Authorization": f"Bearer {secret}"})

    refused = post("x" * (text.NOTE + 1))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "note"
    assert post("x" * text.NOTE).status_code == 201


def test_a_search_with_a_nul_byte_says_so_beside_the_box(
    login_client: Callable[[Staff], Client], salesperson: Staff,
) -> None:
    response = login_client(salesperson).get("/customers/", {"q": "An\x00na"})
    assert response.status_code == 400
    assert _field_error_after(response.content.decode(), "q").startswith(
        "This text contains control characters")


def test_a_call_note_with_a_nul_byte_is_refused_beside_it_and_the_task_stays_open(
    scene: dict[str, Any], login_client: Callable[[Staff], Client], salesperson: Staff,
) -> None:
    task = CallTask.objects.get()
    response = login_client(salesperson).post(f"/tasks/{task.pk}/done/",
                                              {"result": "reached", "note": "ok\x00"})
    assert response.status_code == 422
    assert _field_error_after(response.content.decode(), f"note-{task.pk}").startswith(
        "This text contains control characters")
    task.refresh_from_db()
    assert (task.state, task.note) == ("open", "")
