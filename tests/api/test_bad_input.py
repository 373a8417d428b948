"""Bad input gets a 4xx naming the field, and nothing is written; no request makes a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import ApiClient, problems
from touchflow.customers.models import Customer
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Category, Staff
from touchflow.visits.models import Visit

VISIT = {"bought": True, "contact_capture": "taken", "customer": {"phone": "501234567"}}
SALE = {"customer": {"phone": "501234567"}, "amount": "10.00"}
DEEP: Any = {"a": [{"b": [[[[{"c": [[[[[]]]]]}]]]]}]}
FUTURE = "2999-01-01T00:00:00Z"

CASES: list[tuple[str, dict[str, Any], int, list[tuple[str | None, str]]]] = [
    # visits: types, nulls, missing fields
    ("/visits", {}, 422, [("bought", "missing"), ("contact_capture", "missing")]),
    ("/visits", {**VISIT, "bought": "maybe"}, 422, [("bought", "bool_type")]),
    ("/visits", {**VISIT, "bought": None}, 422, [("bought", "bool_type")]),
    ("/visits", {**VISIT, "contact_capture": "perhaps"}, 422,
     [("contact_capture", "literal_error")]),
    ("/visits", {**VISIT, "bougth": True}, 422, [("bougth", "extra_forbidden")]),
    ("/visits", {**VISIT, "staff": 12}, 422, [("staff", "string_type")]),
    ("/visits", {**VISIT, "customer": "Anna"}, 422, [("customer", "model_attributes_type")]),
    ("/visits", {**VISIT, "customer": {"id": "x"}}, 422, [("customer.id", "int_type")]),
    ("/visits", {**VISIT, "customer": {"id": 2**70}}, 422, [("customer.id", "less_than_equal")]),
    ("/visits", {**VISIT, "customer": {"phone": DEEP}}, 422, [("customer.phone", "string_type")]),
    ("/visits", {**VISIT, "note": DEEP}, 422, [("note", "string_type")]),
    ("/visits", {**VISIT, "customer": {"phone": "1", "consent": {"contact": "x"}}}, 422,
     [("customer.consent.contact", "bool_type")]),
    ("/visits", {**VISIT, "categories": "sofas"}, 422, [("categories", "list_type")]),
    ("/visits", {**VISIT, "categories": [["sofas"]]}, 422, [("categories.0", "string_type")]),
    # visits: sizes and characters
    ("/visits", {**VISIT, "note": "x" * 100_000}, 422, [("note", "string_too_long")]),
    ("/visits", {**VISIT, "external_id": "x" * 101}, 422, [("external_id", "string_too_long")]),
    ("/visits", {**VISIT, "note": "a\x00b"}, 422, [("note", "invalid_characters")]),
    ("/visits", {**VISIT, "external_id": "pos\x00-1"}, 422,
     [("external_id", "invalid_characters")]),
    ("/visits", {**VISIT, "customer": {"phone": "501234567", "name": "\x00"}}, 422,
     [("customer.name", "invalid_characters")]),
    ("/visits", {**VISIT, "categories": ["x" * 65]}, 422, [("categories.0", "string_too_long")]),
    ("/visits", {**VISIT, "categories": ["sofas"] * 51}, 422, [("categories", "too_long")]),
    # visits: the rules of a visit result
    ("/visits", {"bought": True, "contact_capture": "refused", "reason": "just_looking"}, 422,
     [("reason", "not_allowed")]),
    ("/visits", {"bought": False, "contact_capture": "refused"}, 422, [("reason", "required")]),
    ("/visits", {"bought": False, "contact_capture": "refused", "reason": "bad_weather"}, 422,
     [("reason", "invalid_choice")]),
    ("/visits", {"bought": True, "contact_capture": "taken"}, 422, [("customer", "required")]),
    ("/visits", {"bought": True, "contact_capture": "taken", "customer": {"name": "Anna"}}, 422,
     [("customer", "required")]),
    ("/visits", {"bought": True, "contact_capture": "refused", "customer": {"phone": "501234567"}},
     422, [("customer", "not_allowed")]),
    ("/visits", {**VISIT, "categories": ["spaceships"]}, 422, [("categories", "invalid_choice")]),
    ("/visits", {**VISIT, "occurred_at": FUTURE}, 422, [("occurred_at", "in_future")]),
    ("/visits", {**VISIT, "occurred_at": "1900-01-01T00:00:00Z"}, 422,
     [("occurred_at", "out_of_range")]),
    ("/visits", {**VISIT, "occurred_at": "yesterday"}, 422,
     [("occurred_at", "datetime_from_date_parsing")]),
    ("/visits", {**VISIT, "customer": {"phone": "12"}}, 422, [("customer.phone", "invalid_phone")]),
    ("/visits", {**VISIT, "customer": {"phone": "+1 555 0100 999"}}, 422,
     [("customer.phone", "invalid_phone")]),
    ("/visits", {**VISIT, "customer": {"email": "anna@"}}, 422,
     [("customer.email", "invalid_email")]),
    ("/visits", {**VISIT, "customer": {"telegram": "@a b"}}, 422,
     [("customer.telegram", "invalid_handle")]),
    ("/visits", {**VISIT, "customer": {"viber": "viber-me"}}, 422,
     [("customer.viber", "invalid_phone")]),
    ("/visits", {**VISIT, "customer": {"phone": "501234567", "language": "de"}}, 422,
     [("customer.language", "literal_error")]),
    ("/visits", {**VISIT, "customer": {"phone": "501234567", "time_zone": "Mars/Base"}}, 422,
     [("customer.time_zone", "invalid_choice")]),
    ("/visits", {**VISIT, "staff": "nobody"}, 422, [("staff", "not_found")]),
    ("/visits", {**VISIT, "store": ""}, 422, [("store", "string_too_short")]),
    # purchases
    ("/purchases", {}, 422, [("amount", "missing")]),
    ("/purchases", {**SALE, "amount": None}, 422, [("amount", "decimal_type")]),
    ("/purchases", {**SALE, "amount": "ten"}, 422, [("amount", "decimal_parsing")]),
    ("/purchases", {**SALE, "amount": True}, 422, [("amount", "decimal_type")]),
    ("/purchases", {**SALE, "amount": "NaN"}, 422, [("amount", "finite_number")]),
    ("/purchases", {**SALE, "amount": "-5"}, 422, [("amount", "out_of_range")]),
    ("/purchases", {**SALE, "amount": -0.01}, 422, [("amount", "out_of_range")]),
    ("/purchases", {**SALE, "amount": "1.234"}, 422, [("amount", "invalid_number")]),
    ("/purchases", {**SALE, "amount": 1e40}, 422, [("amount", "out_of_range")]),
    ("/purchases", {**SALE, "amount": "9" * 5000}, 422, [("amount", "out_of_range")]),
    ("/purchases", {**SALE, "currency": "EURO"}, 422, [("currency", "string_pattern_mismatch")]),
    ("/purchases", {**SALE, "currency": "ABC"}, 422, [("currency", "invalid_currency")]),
    ("/purchases", {**SALE, "items": [{}]}, 422, [("items.0.unit_price", "missing")]),
    ("/purchases", {**SALE, "items": [{"unit_price": "1.234"}]}, 422,
     [("items.0.unit_price", "decimal_max_places")]),
    ("/purchases", {**SALE, "items": [{"unit_price": 1, "quantity": 0}]}, 422,
     [("items.0.quantity", "greater_than_equal")]),
    ("/purchases", {**SALE, "items": {"sku": "x"}}, 422, [("items", "list_type")]),
    ("/purchases", {**SALE, "customer_id": "seven"}, 422, [("customer_id", "int_type")]),
    ("/purchases", {"amount": "1", "customer_id": 0}, 422, [("customer_id", "greater_than_equal")]),
    ("/purchases", {"amount": "1", "customer_id": 4242}, 404, [("customer_id", "not_found")]),
    ("/purchases", {**SALE, "visit_id": 4242}, 404, [("visit_id", "not_found")]),
    ("/purchases", {**SALE, "occurred_at": FUTURE}, 422, [("occurred_at", "in_future")]),
    ("/purchases", {**SALE, "customer": {"phone": "12"}}, 422,
     [("customer.phone", "invalid_phone")]),
    ("/purchases", {**SALE, "customer": {"external_id": ""}}, 422,
     [("customer.external_id", "string_too_short")]),
    # customers
    ("/customers", {}, 422, [("phone", "required")]),
    ("/customers", {"name": "Anna"}, 422, [("phone", "required")]),
    ("/customers", {"phone": 501234567}, 422, [("phone", "string_type")]),
    ("/customers", {"phone": "call me"}, 422, [("phone", "invalid_phone")]),
    ("/customers", {"email": "nobody@@example.com"}, 422, [("email", "invalid_email")]),
    ("/customers", {"phone": "501234567", "tags": ["x" * 65]}, 422,
     [("tags.0", "string_too_long")]),
    ("/customers", {"phone": "501234567", "language": "xx"}, 422, [("language", "literal_error")]),
    ("/customers", {"phone": "501234567", "id": 5}, 422, [("id", "extra_forbidden")]),
]


@pytest.mark.parametrize(("path", "body", "status", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_body_is_refused_naming_the_field(
    api: ApiClient, categories: list[Category],
    path: str, body: dict[str, Any], status: int, expected: list[tuple[str | None, str]]
) -> None:
    response = api.post(path, body)
    assert response.status_code == status, response.content
    assert problems(response) == expected
    assert all(isinstance(p["message"], str) and p["message"] for p in response.json()["detail"])
    assert (Visit.objects.count(), Purchase.objects.count(), Customer.objects.count()) == (0, 0, 0)


RAW: list[tuple[bytes | str, str, int, str]] = [
    ("{bad json", "application/json", 400, "parse_error"),
    ("[" * 100_000, "application/json", 400, "parse_error"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "application/json", 400, "parse_error"),
    (b"\xff\xfe\x00\xd8", "application/json", 400, "parse_error"),
    ('{"bought": true,}', "application/json", 400, "parse_error"),
    ("null", "application/json", 422, "model_attributes_type"),
    ("[]", "application/json", 422, "model_attributes_type"),
    ('"text"', "application/json", 422, "model_attributes_type"),
    ("12", "application/json", 422, "model_attributes_type"),
    ("", "application/json", 422, "missing"),
    ("bought=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"bought": true}', "text/plain", 415, "unsupported_media_type"),
    ("--x\r\n\r\n--x--", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    ("x" * 3_000_000, "application/json", 413, "too_large"),
]


@pytest.mark.parametrize("path", ["/visits", "/purchases", "/customers"])
@pytest.mark.parametrize(("data", "content_type", "status", "code"), RAW,
                         ids=[f"raw-{i}" for i in range(len(RAW))])
def test_a_body_that_is_not_a_json_object_is_refused(
    api: ApiClient, path: str, data: bytes | str, content_type: str, status: int, code: str
) -> None:
    response = api.send("POST", path, data, content_type)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert problems(response) == [("body", code)]


def test_bad_queries_and_paths_name_the_parameter(api: ApiClient) -> None:
    cases = [
        ({"email": "a\x00@example.com"}, [("email", "invalid_characters")]),
        ({"external_id": "x" * 101}, [("external_id", "string_too_long")]),
        ({"phone": "12"}, [("phone", "invalid_phone")]),
        ({"store": "other"}, [("store", "forbidden")]),
    ]
    for query, expected in cases:
        response = api.get("/customers", query)
        assert response.status_code in (403, 422), query
        assert problems(response) == expected, query


def test_unknown_paths_and_methods_answer_json(api: ApiClient) -> None:
    for path in ["/nothing/here", "/", "/visits/"]:
        response = api.get(path)
        assert (response.status_code, problems(response)) == (404, [(None, "not_found")]), path
    response = api.send("DELETE", "/visits")
    assert (response.status_code, problems(response)) == (405, [(None, "method_not_allowed")])
    assert response["Allow"] == "POST"


# Values of every JSON type and shape, put in place of each field of a good body.
JUNK: list[Any] = [None, True, False, 0, -1, 2**64, 1.5, -1e308, "", " ", "x" * 5000, "\x00",
                   "\ud800", "😀" * 300, "2999-01-01T00:00:00Z", [], [None], {}, DEEP,
                   "' OR 1=1 --"]
GOOD: dict[str, dict[str, Any]] = {
    "/visits": {"store": "warsaw", "staff": "sam", "occurred_at": "2025-01-01T10:00:00Z",
                "bought": False, "contact_capture": "taken", "reason": "just_looking",
                "customer": {"name": "A", "phone": "501234567", "email": "a@example.com",
                             "telegram": "@anna_n", "viber": "501234567",
                             "whatsapp": "501234567", "language": "pl",
                             "time_zone": "Europe/Warsaw",
                             "consent": {"contact": True, "marketing": False}},
                "categories": ["sofas"], "note": "n"},
    "/purchases": {"store": "warsaw", "customer": {"phone": "501234567", "external_id": "c-1"},
                   "occurred_at": "2025-01-01T10:00:00Z", "amount": "10.00",
                   "currency": "PLN", "categories": ["sofas"],
                   "items": [{"sku": "s", "name": "n", "quantity": 1, "unit_price": "10.00"}]},
    "/customers": {"store": "warsaw", "name": "A", "phone": "501234567",
                   "email": "a@example.com", "telegram": "@anna_n", "language": "pl",
                   "time_zone": "Europe/Warsaw", "tags": ["t"], "external_id": "c-1",
                   "consent": {"contact": True, "marketing": False}},
}


def _variants(body: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in body.items():
        for junk in JUNK:
            out.append({**body, key: junk})
        if isinstance(value, dict):
            out += [{**body, key: inner} for inner in _variants(value)]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out += [{**body, key: [inner]} for inner in _variants(value[0])]
    return out


@pytest.mark.parametrize("path", list(GOOD))
def test_no_junk_anywhere_makes_a_500(
    api: ApiClient, salesperson: Staff, categories: list[Category], path: str
) -> None:
    assert api.post(path, GOOD[path]).status_code in (200, 201)
    for body in _variants(GOOD[path]):
        response = api.post(path, body)
        assert response.status_code < 500, (json.dumps(body)[:300], response.content[:300])
        if response.status_code >= 400:
            detail = response.json()["detail"]
            assert detail and all(set(p) == {"field", "message", "code"} for p in detail)
