"""The importer's shortcut for everyday phone numbers agrees with phonenumbers."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType

from touchflow.core.contacts import normalize_phone
from touchflow.core.errors import InvalidInput
from touchflow.purchases.import_phone import plain_phone

TRICKY = [
    "+44 7911 100002", "+447911100002", " +44 7911 100002 ", "+44 07911 100002",
    "+44  7911 100002", "+44\t7911100002", "+44-7911-100002", "+44 (0)7911 100002",
    "+44 7624 123456", "+44 1481 256789", "+44 1534 456789", "+44 800 123 4567",
    "+48 501 234 567", "+48 12 345 67 89", "+1 212 555 0100", "+1 1212 555 0100",
    "+7 912 345 6789", "+7 701 123 4567", "+39 06 1234 5678", "+39 312 345 6789",
    "+49 1512 3456789", "+49 030 123456", "+33 6 12 34 56 78", "+800 1234 5678",
    "+882 1234 5678", "+0 123", "+", "+4", "+44", "+44 7", "+١٢٣٤٥٦٧٨٩", "+44 7911 10000x",
    "+44 7911 100002 ext 12", "00 44 7911 100002", "07911 100002", "+9" * 20,
]


def _library(raw: str) -> str | None:
    try:
        return normalize_phone(raw, "GB")
    except InvalidInput:
        return None


@pytest.mark.parametrize("raw", TRICKY)
def test_the_shortcut_never_disagrees_on_tricky_numbers(raw: str) -> None:
    quick = plain_phone(raw)
    assert quick is None or quick == _library(raw)


def _spaced(rng: random.Random, digits: str) -> str:
    return "".join(d + (" " if rng.random() < 0.2 else "") for d in digits).strip()


def test_the_shortcut_never_disagrees_on_numbers_of_every_country() -> None:
    """Every region's example numbers, each with its last digits changed at random,
    and random digits after every country code."""
    rng = random.Random(8)
    taken = checked = 0
    candidates = []
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE,
                         PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                national = phonenumbers.national_significant_number(example)
                for _ in range(20):
                    keep = rng.randint(max(1, len(national) - 6), len(national))
                    tail = "".join(rng.choice("0123456789")
                                   for _ in range(len(national) - keep + rng.choice((-1, 0, 0, 1))))
                    candidates.append(f"+{code}" + _spaced(rng, national[:keep] + tail))
        for _ in range(30):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 16)))
            candidates.append(f"+{code} " + _spaced(rng, digits))
    for raw in candidates:
        quick = plain_phone(raw)
        checked += 1
        if quick is not None:
            taken += 1
            assert quick == _library(raw), raw
    assert checked > 20_000
    assert taken > checked // 4  # the shortcut is taken for ordinary numbers


def test_the_shortcut_takes_the_bench_files_numbers() -> None:
    for who in range(0, 2000, 2):
        raw = f"+44 7911 {100000 + who}"
        assert plain_phone(raw) == _library(raw) == f"+447911{100000 + who}"
