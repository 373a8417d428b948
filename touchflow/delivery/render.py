"""Turning a step's template into the text one customer receives."""

from __future__ import annotations

import base64
import binascii
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


@lru_cache(maxsize=8)
def _keyed(secret: str, salt: str) -> Any:
    """BLAKE2b keyed with the salt's key, its key block already taken in: each MAC is a
    copy of it (keying costs one compression of its own, more than a short token)."""
    return hashlib.blake2b(key=_key(secret, salt), digest_size=16)


# Base64's URL-safe alphabet, as ``base64.urlsafe_b64encode`` makes it.
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _mac_with(keyed: Any, signed: str) -> str:
    mac = keyed.copy()
    mac.update(signed.encode())
    return binascii.b2a_base64(mac.digest(), newline=False)[:22].translate(_URLSAFE).decode()


def _mac(signed: str, salt: str = UNSUBSCRIBE_SALT) -> str:
    """BLAKE2b in its keyed mode (RFC 7693: a MAC by itself, no HMAC construction
    around it): 128 bits, a third of HMAC-SHA256's time in every message's links."""
    return _mac_with(_keyed(settings.SECRET_KEY, salt), signed)


def _older_mac(signed: str, salt: str) -> str:
    """How links were signed until 2026-12 (HMAC-SHA256, cut to the same 22 characters):
    links already sent still open."""
    digest = hmac.digest(_key(settings.SECRET_KEY, salt), signed.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode()[:22]


def _signed_by_us(mac: str, signed: str, salt: str = UNSUBSCRIBE_SALT) -> bool:
    return hmac.compare_digest(mac, _mac(signed, salt)) or hmac.compare_digest(
        mac, _older_mac(signed, salt))


def unsubscribe_token(customer_id: int, channel: str, store_id: int | None = None) -> str:
    """``Links.unsubscribe_token`` with the settings as they are now."""
    return Links().unsubscribe_token(customer_id, channel, store_id)


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


class Links:
    """The links of a message, with the settings they are made from (the public URL,
    the secret) read once: by a worker once a group rather than twice a message (a read
    of Django's settings costs more than the link's MAC)."""

    __slots__ = ("base", "_unsubscribe", "_rating", "_review")

    def __init__(self) -> None:
        secret = settings.SECRET_KEY
        self.base = settings.TOUCHFLOW_PUBLIC_URL
        self._unsubscribe = _keyed(secret, UNSUBSCRIBE_SALT)
        self._rating = _keyed(secret, RATING_SALT)
        self._review = _keyed(secret, REVIEW_SALT)

    def unsubscribe(self, customer_id: int, channel: str, store_id: int | None = None) -> str:
        """The link; with ``store_id`` (the store whose message carries it),
        unsubscribing ends that store's chains only (``funnel.optout``), without it
        every chain."""
        return f"{self.base}/u/{self.unsubscribe_token(customer_id, channel, store_id)}"

    def unsubscribe_token(self, customer_id: int, channel: str,
                          store_id: int | None = None) -> str:
        """The part of the link after ``/u/``: what it names, and its MAC."""
        signed = f"{customer_id}.{channel}" + (f".{store_id}" if store_id is not None else "")
        return f"{signed}.{_mac_with(self._unsubscribe, signed)}"

    def rating(self, touch_id: int) -> str:
        """The one-tap rating page of a check-in touch (no sign-in: the link is the key)."""
        return f"{self.base}/r/{touch_id}.{_mac_with(self._rating, str(touch_id))}"

    def review(self, touch_id: int) -> str:
        """A review request's link: ``/go/…`` counts the click and goes to the store's
        review page (signed under its own salt: a rating token opens no review link)."""
        return f"{self.base}/go/{touch_id}.{_mac_with(self._review, str(touch_id))}"


def unsubscribe_url(customer_id: int, channel: str, store_id: int | None = None) -> str:
    """``Links.unsubscribe`` with the settings as they are now."""
    return Links().unsubscribe(customer_id, channel, store_id)


def rating_url(touch_id: int) -> str:
    """``Links.rating`` with the settings as they are now."""
    return Links().rating(touch_id)


def read_rating_token(token: str) -> int:
    """The touch id of a valid rating link's token; raises signing.BadSignature."""
    return _read_touch_token(token, RATING_SALT)


def review_url(touch_id: int) -> str:
    """``Links.review`` with the settings as they are now."""
    return Links().review(touch_id)


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


# What a message's ``Form`` leaves open, one value a customer (``Form.fill``'s order):
# the variables ``message_context`` and ``with_greeting`` give per customer and touch.
SLOTS = ("customer.name", "customer.first_name", "greeting", "unsubscribe_url",
         "rating_url", "referral_code", "referral_url", "review_url")
_SLOT = {name: i for i, name in enumerate(SLOTS)}
# Forms kept by one renderer at most (stores × sellers × steps × languages).
MAX_FORMS = 10_000


@dataclass(slots=True)
class Form:
    """A plain message (``PlainTemplate``) with what every customer of a store and seller
    shares already in place — the store's and the seller's names, the text between the
    variables — as a format string whose fields are ``SLOTS``: a group's messages are
    made by one ``str.format`` each instead of a context and a render each."""

    text: str
    subject: str | None
    greets: bool

    def render(self, language: str, customer_name: str, links: tuple[str, str, str, str, str],
               channel: str, asks: str = "") -> Rendered:
        """What ``Renderer.render`` makes of the message in ``language`` with
        ``message_context(customer_name, <the form's store and seller>, *links)``:
        ``links`` are the unsubscribe and rating links, the referral code and link and
        the review link."""
        first = first_name(customer_name)
        values = (customer_name, first, greeting(language, first) if self.greets else "",
                  *links)
        subject = self.subject.format(*values) if self.subject is not None else ""
        return finish(self.text.format(*values).strip(), subject, language, channel, asks,
                      links[1], links[0])


def _form_of(plain: PlainTemplate | None, fixed: dict[str, Any]) -> str | None:
    """``plain`` as a format string, ``fixed``'s values put in; None where rendering it
    would not be a plain join (a variable that is not a text, or unknown: the renderer
    leaves those to Jinja, and so does the form)."""
    if plain is None:
        return None
    out: list[str] = []
    for part in plain.parts:
        if isinstance(part, str):
            out.append(part.replace("{", "{{").replace("}", "}}"))
            continue
        name, attribute = part
        dotted = name if attribute is None else f"{name}.{attribute}"
        slot = _SLOT.get(dotted)
        if slot is not None:
            out.append(f"{{{slot}}}")
            continue
        value = fixed.get(name)
        if attribute is not None:
            value = value.get(attribute) if type(value) is dict else None
        if type(value) is not str:
            return None
        out.append(value.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


class Renderer:
    """Compiles each template source once and reuses it for every customer."""

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[PlainTemplate | None, Template]] = {}
        self._forms: dict[tuple[str, str, str, str], Form | None] = {}

    def form(
        self, source: dict[str, str], store_name: str, seller_name: str
    ) -> Form | None:
        """The message ``source`` (one language's text and subject) for a store's and a
        seller's customers, or None: it is not plain, and ``render`` makes it."""
        key = (source["text"], source.get("subject") or "", store_name, seller_name)
        if key in self._forms:
            return self._forms[key]
        if len(self._forms) >= MAX_FORMS:
            self._forms.clear()
        fixed = {k: v for k, v in message_context("", store_name, seller_name, "").items()
                 if k in ("store", "seller")}
        try:
            text = _form_of(self._template(key[0])[0], fixed)
            subject = _form_of(self._template(key[1])[0], fixed) if key[1] else None
        except Exception:  # noqa: BLE001 - ``render`` reports it, in the author's words
            text = subject = None
        found = None
        if text is not None and (subject is not None or not key[1]):
            found = Form(text, subject, any(f"{{{_SLOT['greeting']}}}" in t
                                            for t in (text, subject or "")))
        self._forms[key] = found
        return found

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
        return finish(text, subject, lang, channel, asks, str(context.get("rating_url", "")),
                      context.get("unsubscribe_url", ""))


def finish(text: str, subject: str, lang: str, channel: str, asks: str, rating_url: str,
           url: str) -> Rendered:
    """A rendered text made a message: how to answer a check-in where no buttons show
    (``_with_answers``), and the unsubscribe footer where the template has no link."""
    text = _with_answers(text, asks, lang, rating_url, channel)
    if url and url not in text:
        # The template did not place the link (``core.stop_texts``). SMS carries the
        # STOP word instead: a link costs a segment, and STOP works on every phone.
        footer = sms_stop_line(lang) if channel == "sms" else link_footer(lang, url)
        text = f"{text}\n\n{footer}"
    return Rendered(subject=subject, text=text, language=lang)
