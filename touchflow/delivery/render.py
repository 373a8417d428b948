"""Turning a step's template into the text one customer receives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing
from jinja2 import Template

from touchflow.core import channels
from touchflow.core.stop_texts import link_footer, sms_stop_line
from touchflow.flows.answers import link_line, reply_hint
from touchflow.flows.templates import (
    PlainTemplate,
    environment,
    explain_failure,
    plain_template,
    with_greeting,
)
from touchflow.flows.templates import first_name as first_name  # the dispatcher's import
from touchflow.flows.templates import greeting as greeting
from touchflow.flows.templates import message_context as message_context

UNSUBSCRIBE_SALT = "touchflow.unsubscribe"
RATING_SALT = "touchflow.rating"
REVIEW_SALT = "touchflow.review"

# "<customer>.<channel>[.<store>].<mac>": a link in every message, so it is signed with
# a key derived once per process (Django's signing derives it again on every call, which
# cost the dispatcher ~20 µs a message). Links signed the older way still open. The
# store is the one whose message carried the link: its chains end on unsubscribe.
_TOKEN = re.compile(r"^(\d+)\.([a-z]+)(?:\.(\d+))?\.([A-Za-z0-9_-]{22})$")
# "<touch>.<mac>": a check-in's rating page (its expiry is the touch's: flows.answers) and
# a review request's link, each under its own salt.
_TOUCH_TOKEN = re.compile(r"^(\d+)\.([A-Za-z0-9_-]{22})$")


@lru_cache(maxsize=8)
def _key(secret: str, salt: str = UNSUBSCRIBE_SALT) -> bytes:
    return hashlib.sha256(f"{salt}:{secret}".encode()).digest()


def _mac(signed: str, salt: str = UNSUBSCRIBE_SALT) -> str:
    """BLAKE2b in its keyed mode (RFC 7693: a MAC by itself, no HMAC construction
    around it): 128 bits, a third of HMAC-SHA256's time in every message's links."""
    digest = hashlib.blake2b(signed.encode(), key=_key(settings.SECRET_KEY, salt),
                             digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def _older_mac(signed: str, salt: str) -> str:
    """How links were signed until 2026-12 (HMAC-SHA256, cut to the same 22 characters):
    links already sent still open."""
    digest = hmac.digest(_key(settings.SECRET_KEY, salt), signed.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode()[:22]


def _signed_by_us(mac: str, signed: str, salt: str = UNSUBSCRIBE_SALT) -> bool:
    return hmac.compare_digest(mac, _mac(signed, salt)) or hmac.compare_digest(
        mac, _older_mac(signed, salt))


def unsubscribe_token(customer_id: int, channel: str, store_id: int | None = None) -> str:
    signed = f"{customer_id}.{channel}" + (f".{store_id}" if store_id is not None else "")
    return f"{signed}.{_mac(signed)}"


def read_unsubscribe_link(token: str) -> tuple[int, str, int | None]:
    """(customer id, channel, store id or None) of a valid token; raises
    signing.BadSignature otherwise."""
    match = _TOKEN.match(token)
    if match is not None:
        signed = token.rpartition(".")[0]
        if _signed_by_us(match[4], signed):
            return int(match[1]), match[2], int(match[3]) if match[3] else None
        raise signing.BadSignature("unsubscribe link signature does not match")
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    return int(data["c"]), str(data["ch"]), None


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(customer id, channel) of a valid token; raises signing.BadSignature otherwise."""
    customer_id, channel, _store = read_unsubscribe_link(token)
    return customer_id, channel


def unsubscribe_url(customer_id: int, channel: str, store_id: int | None = None) -> str:
    """The link; with ``store_id`` (the store whose message carries it), unsubscribing
    ends that store's chains only (``funnel.optout``), without it every chain."""
    token = unsubscribe_token(customer_id, channel, store_id)
    return f"{settings.TOUCHFLOW_PUBLIC_URL}/u/{token}"


def rating_url(touch_id: int) -> str:
    """The one-tap rating page of a check-in touch (no sign-in: the link is the key)."""
    return f"{settings.TOUCHFLOW_PUBLIC_URL}/r/{touch_id}.{_mac(str(touch_id), RATING_SALT)}"


def read_rating_token(token: str) -> int:
    """The touch id of a valid rating link's token; raises signing.BadSignature."""
    return _read_touch_token(token, RATING_SALT)


def review_url(touch_id: int) -> str:
    """A review request's link: ``/go/…`` counts the click and goes to the store's review
    page (signed under its own salt: a rating token opens no review link)."""
    return f"{settings.TOUCHFLOW_PUBLIC_URL}/go/{touch_id}.{_mac(str(touch_id), REVIEW_SALT)}"


def read_review_token(token: str) -> int:
    """The touch id of a valid review link's token; raises signing.BadSignature."""
    return _read_touch_token(token, REVIEW_SALT)


def _read_touch_token(token: str, salt: str) -> int:
    match = _TOUCH_TOKEN.match(token)
    if match is None or not _signed_by_us(match[2], match[1], salt):
        raise signing.BadSignature("link signature does not match")
    return int(match[1])


def _with_answers(text: str, asks: str, language: str, rating_url: str, channel: str) -> str:
    """Messengers show a check-in's answers as buttons; an SMS says what to reply and
    both SMS and e-mail link the one-tap rating page (unless the template placed it)."""
    if not asks or channel not in channels.NAMES or channels.get(channel).buttons:
        return text
    lines = [reply_hint(asks, language)] if channel == "sms" else []
    if rating_url and rating_url not in text:
        lines.append(link_line(language, rating_url))
    return "\n\n".join([text, "\n".join(lines)]) if lines else text


class TemplateFailed(ValueError):
    """A template that cannot be rendered for this customer; the message names the
    cause a manager can fix ("unknown variable store.phone")."""


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class Rendered:
    subject: str
    text: str
    language: str


class Renderer:
    """Compiles each template source once and reuses it for every customer."""

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[PlainTemplate | None, Template]] = {}

    def _template(self, source: str) -> tuple[PlainTemplate | None, Template]:
        found = self._compiled.get(source)
        if found is None:
            template = environment().from_string(source)
            # Jinja keeps a template's globals as a ChainMap over the environment's and
            # copies it into a fresh dict on every render; one flat copy made here once
            # cuts a render by about a third (the sandbox's globals never change).
            template.globals = dict(template.globals)
            found = (plain_template(environment().parse(source)), template)
            self._compiled[source] = found
        return found

    def _render(self, source: str, context: dict[str, Any]) -> str:
        try:
            plain, template = self._template(source)
            text = plain.render(context) if plain is not None else None
            return text if text is not None else template.render(context)
        except Exception as exc:  # noqa: BLE001 - every template failure is the author's
            raise TemplateFailed(explain_failure(source, exc)) from exc

    @staticmethod
    def pick_language(messages: dict[str, Any], *preferred: str) -> str:
        for language in (*preferred, "en"):
            if language in messages:
                return language
        return next(iter(messages))

    def render(
        self,
        messages: dict[str, dict[str, str]],
        language: str,
        store_language: str,
        context: dict[str, Any],
        channel: str,
        asks: str = "",
    ) -> Rendered:
        """Render in the customer's language (else the store's, else English), with an
        unsubscribe footer where the template has none; a check-in that ``asks`` for an
        answer (``flows.answers``) says how to give it where no buttons show."""
        lang = self.pick_language(messages, language, store_language)
        source = messages[lang]
        context = with_greeting(context, lang)
        text = self._render(source["text"], context).strip()
        subject = self._render(source["subject"], context) if source.get("subject") else ""
        text = _with_answers(text, asks, lang, str(context.get("rating_url", "")), channel)
        url = context.get("unsubscribe_url", "")
        if url and url not in text:
            # The template did not place the link (``core.stop_texts``). SMS carries the
            # STOP word instead: a link costs a segment, and STOP works on every phone.
            footer = sms_stop_line(lang) if channel == "sms" else link_footer(lang, url)
            text = f"{text}\n\n{footer}"
        return Rendered(subject=subject, text=text, language=lang)
