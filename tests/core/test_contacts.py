from __future__ import annotations

import pytest

from touchflow.core.contacts import normalize_email, normalize_phone, normalize_telegram
from touchflow.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("501 234 567", "PL", "+48501234567"),
        ("+48 501-234-567", None, "+48501234567"),
        ("0048501234567", "PL", "+48501234567"),
        ("07911 123456", "GB", "+447911123456"),
        ("+7 (912) 345-67-89", "PL", "+79123456789"),
    ],
)
def test_phone_is_normalised_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "abc", "+48 123", "+1 555 0000000000000"])
def test_bad_phone_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize_phone(raw, "PL", field="customer.phone")
    assert err.value.field == "customer.phone"
    assert err.value.code == "invalid_phone"


def test_empty_phone_is_required() -> None:
    with pytest.raises(InvalidInput) as err:
        normalize_phone("   ", "PL")
    assert (err.value.field, err.value.code) == ("phone", "required")


def test_email_is_case_folded() -> None:
    assert normalize_email("  Anna.Nowak@Example.COM ") == "anna.nowak@example.com"


@pytest.mark.parametrize("raw", ["anna", "anna@", "@x.pl", "a b@x.pl", "anna@x..pl"])
def test_bad_email_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize_email(raw)
    assert err.value.field == "email"
    assert err.value.code == "invalid_email"


def test_telegram_accepts_chat_ids_and_usernames() -> None:
    assert normalize_telegram("123456789") == "123456789"
    assert normalize_telegram("@Anna_Nowak") == "@anna_nowak"
    with pytest.raises(InvalidInput):
        normalize_telegram("@ab")
