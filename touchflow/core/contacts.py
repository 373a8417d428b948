"""Normalisation of contact points: the basis of customer de-duplication.

Two inputs that normalise to the same value are the same contact point, and so
the same customer.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from touchflow.core.errors import InvalidInput

_TELEGRAM_HANDLE = re.compile(r"^[a-z][a-z0-9_]{4,31}$")


def normalize_phone(raw: str, region: str | None = None, field: str = "phone") -> str:
    """Return the phone number in E.164 (``+48501234567``).

    ``region`` (ISO 3166 alpha-2) is used for numbers typed without a country code.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(field, "A phone number is required.", "required")
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field, f"Not a phone number: {text!r}.", "invalid_phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(
            field, f"{text!r} is not a valid phone number for its country.", "invalid_phone"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str, field: str = "email") -> str:
    """Return the e-mail address in canonical form (lower case, IDNA domain)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(field, "An e-mail address is required.", "required")
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(field, str(exc), "invalid_email") from exc
    # Mailboxes are case-insensitive in practice; treating them so is what makes
    # "Anna@X.pl" and "anna@x.pl" one customer.
    return info.normalized.lower()


def normalize_telegram(raw: str, field: str = "telegram") -> str:
    """Telegram: a numeric chat id (from the bot) or a @username."""
    text = (raw or "").strip()
    if text.lstrip("-").isdigit():
        return text
    handle = text.removeprefix("@").lower()
    if not _TELEGRAM_HANDLE.match(handle):
        raise InvalidInput(
            field, f"{text!r} is neither a Telegram chat id nor a @username.", "invalid_handle"
        )
    return "@" + handle


def normalize_handle(raw: str, field: str = "handle") -> str:
    """Other social networks: a trimmed, case-folded handle."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(field, "A handle is required.", "required")
    if len(text) > 200:
        raise InvalidInput(field, "A handle is at most 200 characters.", "too_long")
    return text.casefold()
