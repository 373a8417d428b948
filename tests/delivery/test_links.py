"""A message's links as the worker makes them (``render.Links``, the settings read once)
are the links every other path makes and reads back."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.core import signing
from django.test import override_settings

from touchflow.delivery import render


def _blake2b_mac(signed: str, salt: str) -> str:
    """RFC 7693's keyed BLAKE2b, 128 bits, the first 22 URL-safe base64 characters: how
    links already sent were signed."""
    key = hashlib.sha256(f"{salt}:test-secret".encode()).digest()
    digest = hashlib.blake2b(signed.encode(), key=key, digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


@override_settings(SECRET_KEY="test-secret", TOUCHFLOW_PUBLIC_URL="https://tf.example")
def test_a_groups_links_are_the_links_signed_one_by_one() -> None:
    links = render.Links()
    for customer, channel, store in [(1, "sms", 2), (123456, "email", None), (9, "telegram", 7)]:
        url = links.unsubscribe(customer, channel, store)
        assert url == render.unsubscribe_url(customer, channel, store)
        token = url.removeprefix("https://tf.example/u/")
        signed = token.rpartition(".")[0]
        assert token.rpartition(".")[2] == _blake2b_mac(signed, render.UNSUBSCRIBE_SALT)
        assert render.read_unsubscribe_link(token) == (customer, channel, store)
    assert links.rating(42) == render.rating_url(42) == (
        f"https://tf.example/r/42.{_blake2b_mac('42', render.RATING_SALT)}")
    assert links.review(42) == render.review_url(42) == (
        f"https://tf.example/go/42.{_blake2b_mac('42', render.REVIEW_SALT)}")
    assert render.read_rating_token(links.rating(42).rpartition("/")[2]) == 42
    assert render.read_review_token(links.review(42).rpartition("/")[2]) == 42


def test_a_link_made_before_the_secret_changed_no_longer_opens() -> None:
    with override_settings(SECRET_KEY="test-secret"):
        token = render.Links().unsubscribe(5, "sms", 1).rpartition("/")[2]
    with override_settings(SECRET_KEY="another-secret"), pytest.raises(signing.BadSignature):
        render.read_unsubscribe_link(token)
