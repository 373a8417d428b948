"""The importer's shortcut for everyday e-mail addresses agrees with the validator."""

from __future__ import annotations

import random
import string

import pytest

from touchflow.core.contacts import normalize_email
from touchflow.core.errors import InvalidInput
from touchflow.purchases.import_parse import plain_email

TRICKY = [
    "anna@x.pl", "Anna.Nowak@Example.COM", " ola+shop@mail.co.uk ", "a..b@x.com", ".a@x.com",
    "a.@x.com", "a@x", "a@-x.com", "a@x-.com", "a@x.123", "a@localhost", "a@shop.local",
    "a@x.test", "a@x.onion", "a@x.invalid", "a@x.arpa", "a@b.c", "a_b@x.io",
    "a" * 64 + "@x.com", "a" * 65 + "@x.com", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
    "ą@x.pl", "a@ą.pl", "a b@x.com", "@x.com", "a@@x.com", "a@x..com", "a@x.c0m",
]


def _validator(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except InvalidInput:
        return None


@pytest.mark.parametrize("raw", TRICKY)
def test_the_shortcut_never_disagrees_on_tricky_addresses(raw: str) -> None:
    quick = plain_email(raw)
    assert quick is None or quick.value == _validator(raw)


def test_the_shortcut_never_disagrees_on_random_addresses() -> None:
    rng = random.Random(8)
    alphabet = string.ascii_letters + string.digits + "._+-@"
    taken = 0
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 20)))
        if rng.random() < 0.5:
            raw = raw.replace("@", "") + "@" + rng.choice(["x.pl", "Mail.com", "a-b.co.uk"])
        quick = plain_email(raw)
        if quick is not None:
            taken += 1
            assert quick.value == _validator(raw), raw
    assert taken > 500  # the shortcut is taken for ordinary addresses
