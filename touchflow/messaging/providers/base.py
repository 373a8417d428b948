"""What every provider module implements, and what its webhooks turn into.

A provider module knows one provider's wire format and nothing else: it sends
messages (``send``; the engine's ``Channel`` interface), sends one free-form text
(``send_text``; staff replies and confirmations), and turns a webhook request into
``Inbound`` items after checking its signature. What the items *mean* — linking a chat,
a reply on the timeline, STOP, a receipt — is decided once, in ``messaging.inbound``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

import httpx
from django.http import HttpRequest, HttpResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import retry_after_seconds
from touchflow.delivery.channels.per_thread import PerThread


class WebhookRefused(Exception):
    """The request is not from the provider (bad or missing signature): 401 or 403."""

    status = 403


class Unauthenticated(WebhookRefused):
    status = 401


class MalformedWebhook(Exception):
    """The request is from the provider (or claims to be) but cannot be read: 400."""


# -- what comes back in ------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    # The provider's id for this event; a second delivery of the same id changes nothing.
    # Empty: the event cannot repeat harmfully (e.g. a verification ping).
    event_id: str


@dataclass(frozen=True)
class Text(Inbound):
    """The customer wrote to us (or pressed a quick-reply button carrying ``text``)."""

    address: str  # chat id, Viber user id, E.164 phone, e-mail address
    text: str
    name: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Start(Inbound):
    """The customer opened the chat from a QR code / deep link carrying ``token``."""

    address: str
    token: str
    name: str = ""


@dataclass(frozen=True)
class Unsubscribed(Inbound):
    """The customer blocked the bot or unsubscribed in the messenger itself."""

    address: str


@dataclass(frozen=True)
class Receipt(Inbound):
    """What happened to a message we sent: delivered, read or failed."""

    provider_message_id: str
    status: str  # "delivered" | "read" | "failed"
    error: str = ""
    # A failed message whose failure is about the address (invalid number, blocked…):
    # the step falls back to its next channel. Otherwise the failure is only recorded.
    permanent: bool = True


@dataclass(frozen=True)
class Bounce(Inbound):
    address: str
    hard: bool
    error: str = ""


@dataclass(frozen=True)
class Complaint(Inbound):
    """The recipient marked our e-mail as spam: counts as an opt-out."""

    address: str


@dataclass(frozen=True)
class AccountConfig:
    """A decrypted account, as a provider needs it."""

    id: int
    store_id: int
    provider: str
    channel: str
    handle: str
    base_url: str
    credentials: dict[str, Any]
    webhook_key: str = ""
    webhook_url: str = ""  # the public URL of this account's webhook
    # Messages per second for this account; None: the provider's ``default_rate``.
    rate_limit: float | None = None


class Shape(BaseModel):
    """A provider's JSON as a webhook or a send reads it: parsed at the edge into typed
    fields, the fields it does not read ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class NumberedShape(Shape):
    """A Shape whose text fields take a JSON number as its digits: providers that send an
    id or a code now as a string, now as a number (WhatsApp, Mailgun)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)


class FormShape(Shape):
    """A Shape read from a form post or a query string (Twilio, SMSAPI): every value is
    text, and a field is set only by the provider's own name for it."""

    model_config = ConfigDict(populate_by_name=False)


S = TypeVar("S", bound=Shape)
T = TypeVar("T")


def _none_when_unusable(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    try:
        return handler(value)
    except ValidationError:
        return None


# A field that documents an answer but decides nothing about it: a value of the wrong
# type reads as None instead of refusing the whole answer.
OrNone = Annotated[T | None, WrapValidator(_none_when_unusable)]


def parse_shape(shape: type[S], data: object, what: str) -> S:
    """``data`` as ``shape``, or MalformedWebhook naming the first field that is wrong
    ("message.chat: Field required")."""
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the body"
        raise MalformedWebhook(f"not {what}: {where}: {error['msg']}") from exc


def read_answer(shape: type[S], response: httpx.Response) -> S | None:
    """A provider's JSON answer as ``shape``; None when it is not JSON or not that shape
    (the caller then tells the HTTP status and the raw text instead)."""
    try:
        return shape.model_validate(response.json())
    except (ValueError, ValidationError):
        return None


QUICK_STOP = "stop"  # the payload of the unsubscribe button every messenger shows
# Connections kept to one provider account by one worker (its bound on requests in
# flight to that account).
CONNECTIONS = 100


def sms_with_replies(text: str, replies: Sequence[str]) -> str:
    """SMS has no buttons: the answers the step offers are written out to reply with."""
    return f"{text}\n{' / '.join(replies)}" if replies else text


class Provider:
    """Base for provider modules: an HTTP client kept alive across sends (or not, to
    measure what reuse is worth), and helpers to map answers to ``SendResult``."""

    name: ClassVar[str]
    channel: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # Declared by every provider module, with no default here, so one that forgets is
    # caught (tests/delivery/test_ratelimit.py), not silently given a guess:
    # - the messages a second one account may send, from the provider's documentation
    #   (an account's own ``rate_limit`` overrides it);
    # - whether the provider drops a second request carrying the same idempotency key,
    #   so that a send whose answer was lost may safely be sent again.
    default_rate: ClassVar[float]
    honours_idempotency_key: ClassVar[bool]
    # The credentials it cannot send without (``touchflow doctor`` checks each account).
    required_credentials: ClassVar[tuple[str, ...]] = ()
    # Whether it needs a sender: the account's handle, or one of these credentials.
    needs_sender: ClassVar[bool] = False
    sender_credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, account: AccountConfig, *, reuse: bool = True, timeout: float = 10.0):
        self.account = account
        self.base_url = (account.base_url or self.default_base_url).rstrip("/")
        self.reuse = reuse
        self.timeout = timeout
        # One client per sending thread, each with its own kept-alive connection: a
        # client shared by a hundred threads spends its time in httpcore's pool, which
        # scans every connection for every waiting request (decision 0016).
        self._clients: PerThread[httpx.Client] = PerThread(lambda c: c.close())

    # -- HTTP -------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return self._clients.get(self._new_client)

    def _new_client(self) -> httpx.Client:
        # Without reuse no connection is kept alive: every request opens its own
        # (and closes it), which is what the benchmark compares reuse against.
        limits = httpx.Limits() if self.reuse else httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(timeout=self.timeout, limits=limits)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; raises httpx.HTTPError for network trouble (the caller maps it
        to a retry)."""
        return self.client().request(method, url, **kwargs)

    def close(self) -> None:
        self._clients.close_all()

    # -- sending ----------------------------------------------------------------------

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [self.send_one(m) for m in messages]

    def send_one(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def sender_for(self, message: OutgoingMessage) -> Callable[[OutgoingMessage], SendResult]:
        """What sends ``message`` on a sending thread, which must not read the database:
        a provider that needs stored facts to send reads them here, on the worker's
        main thread."""
        return self.send_one

    def send_text(
        self, address: str, text: str, *, quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False, language: str = "en",
    ) -> SendResult:
        """A free-form message outside any chain: a staff reply, a confirmation."""
        raise NotImplementedError

    def answers_in_response(self, address: str) -> bool:
        """Whether an answer to ``address`` goes back in the webhook's own HTTP response
        (``send_text`` keeps it, ``acknowledge`` returns it) instead of as a message."""
        return False

    # -- receiving --------------------------------------------------------------------

    def takes_get(self, request: HttpRequest) -> bool:
        """Whether this GET carries events, read like a POST (SMSAPI's reports)."""
        return False

    def handshake(self, request: HttpRequest) -> HttpResponse | None:
        """Answer a provider's verification request (e.g. WhatsApp's GET with
        ``hub.challenge``); None when ``request`` is not one."""
        return None

    def acknowledge(self, applied: int, duplicates: int) -> HttpResponse:
        """The 200 the provider expects once its webhook was taken in."""
        return HttpResponse(
            json.dumps({"ok": True, "applied": applied, "duplicates": duplicates}),
            content_type="application/json",
        )

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        """Check the signature (raise WebhookRefused) and read the body (raise
        MalformedWebhook); return what happened, in order."""
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------

    @staticmethod
    def network_error(exc: Exception) -> SendResult:
        """A request that never reached the provider (no connection) is retried; one
        that may have (a timeout or a broken connection after it was written) is
        ambiguous."""
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return SendResult.retry(error)
        return SendResult.unknown(error)

    @staticmethod
    def retry_after(response: httpx.Response, body: Any = None) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"))

    @staticmethod
    def json_body(request: HttpRequest) -> Any:
        try:
            return json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedWebhook(f"body is not JSON: {exc}") from exc

