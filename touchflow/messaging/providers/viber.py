"""Viber REST bot API (https://developers.viber.com/docs/api/rest-bot-api/).

Out: ``POST /pa/send_message`` to a Viber user id, with a keyboard of ``reply``
buttons for quick replies and the unsubscribe button; the auth token goes in
``X-Viber-Auth-Token``. Viber answers HTTP 200 even when it refuses: the body's
``status`` says what happened (0 ok; 5 receiverNotRegistered, 6 notSubscribed and the
account errors are final; 12 tooManyRequests and unknown codes are retried).

In: one webhook (``set_webhook``), signed with ``X-Viber-Content-Signature`` = hex
HMAC-SHA256 of the raw body keyed with the auth token. Events: ``webhook`` (the
verification ping), ``conversation_started`` (the chat opened, from the counter's
QR deep link ``viber://pa?chatURI=<handle>&context=<token>``: a ``Start``),
``message`` (``Text``), ``subscribed`` (nothing to do), ``unsubscribed``
(``Unsubscribed``), ``delivered``/``seen``/``failed`` (``Receipt``). Event ids are
``<message_token>:<event>``: Viber's retry of one callback repeats both, while the
delivered and seen callbacks of one message differ.

The welcome: Viber lets a bot write to a user who has not subscribed exactly once,
and only as the HTTP *response body* to ``conversation_started`` (a ``send_message``
to that user fails with status 6). So the answer to a ``Start`` (the thank-you or the
"code expired" note) is not sent: ``send_text`` to the user whose
``conversation_started`` is being handled in this thread keeps it, and
``acknowledge`` returns it as the response body. The user becomes a subscriber when
they first write to the bot; until then, touches to them fail with status 6 and the
step falls back to its next channel.

Credentials: ``{"auth_token": "…", "sender_name": "…"}`` (``sender_name``, shown as the
sender of every message, defaults to the handle). Handle: the bot's chat URI.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
from django.http import HttpRequest, HttpResponse
from pydantic import StrictInt, StrictStr, field_validator

from touchflow.core import stop_texts
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import transient
from touchflow.messaging.providers.base import (
    QUICK_STOP,
    Inbound,
    MalformedWebhook,
    Provider,
    Receipt,
    Shape,
    Start,
    Text,
    Unauthenticated,
    Unsubscribed,
    WebhookRefused,
    parse_shape,
)

# https://developers.viber.com/docs/api/rest-bot-api/#error-codes
STATUS_NAMES = {
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    14: "incompatibleWithVersion",
    15: "publicAccountNotAuthorized",
    16: "inchatReplyMessageNotAllowed",
    17: "publicAccountIsNotInline",
    18: "noPublicChat",
    19: "cannotSendBroadcast",
    20: "broadcastNotAllowed",
    21: "unsupportedCountry",
    22: "paymentUnsupported",
    23: "freeMessagesExceeded",
    24: "noBalance",
}
# Worth another try later: the rate limit; a code not in the table (Viber's "other",
# a general error) is retried too.
RETRY_STATUSES = {12}

EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
RECEIPT_STATUS = {"delivered": "delivered", "seen": "read", "failed": "failed"}

SENDER_NAME_MAX = 28  # Viber refuses longer sender names
TEXT_MAX = 7000


# -- the callback fields the webhook reads (https://developers.viber.com/docs/api/rest-bot-api/#callbacks)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


class ViberUser(Shape):
    id: StrictStr  # case-sensitive: never folded
    name: str | None = None


class ViberMessage(Shape):
    type: str | None = None
    text: str | None = None  # not a string (a picture's caption object…): nothing we read

    _text = field_validator("text", mode="before")(_text_or_none)


class Callback(Shape):
    event: StrictStr
    timestamp: int | None = None  # milliseconds; an unusable one is ignored, not refused
    message_token: StrictInt | StrictStr | None = None
    user: ViberUser | None = None  # conversation_started
    sender: ViberUser | None = None  # message
    message: ViberMessage | None = None
    user_id: StrictStr | None = None  # unsubscribed, receipts
    desc: str | None = None  # why a message failed
    context: str | None = None  # the deep link's context: the counter's token

    @field_validator("timestamp", mode="before")
    @classmethod
    def _usable_time(cls, value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @field_validator("desc", "context", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> str | None:
        return None if value is None else str(value)


class ViberProvider(Provider):
    name = "viber"
    channel = "viber"
    default_base_url = "https://chatapi.viber.com"
    required_credentials = ("auth_token",)
    # Viber documents no per-second limit for send_message (only 100 messages an hour to
    # one user who has not replied); its one throughput figure is broadcast_message's
    # "500 requests per 10 seconds" (creators.viber.com/docs/bots-api/resources/
    # messaging/broadcast-message), so 50/s. No idempotency key: tracking_data only
    # comes back in callbacks.
    default_rate: ClassVar[float] = 50.0
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The conversation_started being answered in this thread (see the module doc).
        self._pending = threading.local()

    # -- sending ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"X-Viber-Auth-Token": str(self.account.credentials.get("auth_token", ""))}

    def call(self, method: str, payload: dict[str, Any]) -> SendResult:
        """One ``/pa/<method>`` call mapped to a result (see the module doc)."""
        try:
            response = self.request(
                "POST", f"{self.base_url}/pa/{method}", json=payload, headers=self._headers()
            )
        except httpx.HTTPError as exc:
            return self.network_error(exc)
        if response.status_code != 200:
            error = f"Viber HTTP {response.status_code}: {response.text[:200]}"
            if transient(response.status_code):
                return SendResult.retry(error, self.retry_after(response))
            return SendResult.failed(error)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("status"), int):
            return SendResult.retry(f"Viber: unreadable answer {response.text[:200]!r}")
        status = body["status"]
        if status == 0:
            return SendResult.sent(str(body.get("message_token", "")))
        message = body.get("status_message") or STATUS_NAMES.get(status, "generalError")
        error = f"Viber {status}: {message}"
        if status in RETRY_STATUSES or status not in STATUS_NAMES:
            return SendResult.retry(error, self.retry_after(response))
        return SendResult.failed(error)

    def sender(self) -> dict[str, str]:
        name = str(self.account.credentials.get("sender_name") or self.account.handle or "Bot")
        return {"name": name[:SENDER_NAME_MAX]}

    def message(
        self, text: str, buttons: Sequence[str], stop_label: str, tracking: str = ""
    ) -> dict[str, Any]:
        """A text message as ``send_message`` takes it, without the receiver."""
        payload: dict[str, Any] = {"type": "text", "text": text[:TEXT_MAX], "sender": self.sender()}
        keys = [_button(b, b) for b in buttons]
        if stop_label:
            keys.append(_button(stop_label, QUICK_STOP))
        if keys:
            payload["keyboard"] = {"Type": "keyboard", "DefaultHeight": False, "Buttons": keys}
        if tracking:
            payload["tracking_data"] = tracking
        return payload

    def send_one(self, message: OutgoingMessage) -> SendResult:
        label = stop_texts.stop_label(message.language)
        payload = self.message(
            message.text, message.quick_replies, label, tracking=message.idempotency_key
        )
        return self.call("send_message", {"receiver": message.address, **payload})

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        label = stop_texts.stop_label(language) if unsubscribe_button else ""
        payload = self.message(text, quick_replies, label)
        if getattr(self._pending, "user", None) == address:
            # The welcome to a conversation_started: it goes back in the HTTP response.
            self._pending.welcome = payload
            return SendResult.sent("")
        return self.call("send_message", {"receiver": address, **payload})

    def answers_in_response(self, address: str) -> bool:
        return getattr(self._pending, "user", None) == address

    def set_webhook(self) -> SendResult:
        """Point Viber at this account's webhook (Viber pings it with a signed
        ``webhook`` event before it answers)."""
        return self.call(
            "set_webhook",
            {
                "url": self.account.webhook_url,
                "event_types": EVENT_TYPES,
                "send_name": True,
                "send_photo": False,
            },
        )

    # -- webhook ------------------------------------------------------------------------

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        self._pending.__dict__.clear()
        given = request.headers.get("X-Viber-Content-Signature")
        if given is None:
            raise Unauthenticated("X-Viber-Content-Signature is missing")
        if not self.account.credentials.get("auth_token"):
            # Anyone can sign with an empty key.
            raise WebhookRefused("the account has no auth token to check signatures with")
        if not hmac.compare_digest(
            given.strip().lower().encode(), self.signature(request.body).encode()
        ):
            raise WebhookRefused("X-Viber-Content-Signature does not match")
        event = parse_shape(Callback, self.json_body(request), "a Viber callback")
        try:
            return self._items(event)
        except ValueError as exc:
            raise MalformedWebhook(f"unexpected {event.event} callback: {exc}") from exc

    def signature(self, body: bytes) -> str:
        key = str(self.account.credentials.get("auth_token", "")).encode()
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def _items(self, event: Callback) -> list[Inbound]:
        kind = event.event
        if kind == "webhook":
            return []
        event_id = f"{_token(event)}:{kind}"
        if kind == "conversation_started":
            user = _required(event.user, "user")
            self._pending.user = _id(user.id)
            return [Start(event_id, _id(user.id), (event.context or "").strip(), user.name or "")]
        if kind == "message":
            sender = _required(event.sender, "sender")
            message = _required(event.message, "message")
            if message.type != "text" or message.text is None:
                return []  # pictures, stickers, locations: nothing we act on
            return [Text(event_id, _id(sender.id), message.text, sender.name or "", _at(event))]
        if kind == "unsubscribed":
            return [Unsubscribed(event_id, _id(event.user_id))]
        if kind in RECEIPT_STATUS:
            error = (event.desc or "")[:300] if kind == "failed" else ""
            return [Receipt(event_id, _token(event), RECEIPT_STATUS[kind], error=error)]
        return []  # subscribed (the user wrote first; the message follows), client_status…

    def acknowledge(self, applied: int, duplicates: int) -> HttpResponse:
        """Viber reads the response to conversation_started as the welcome message;
        every other callback only needs its 200."""
        if getattr(self._pending, "user", None) is None:
            return super().acknowledge(applied, duplicates)
        welcome = getattr(self._pending, "welcome", None)
        self._pending.__dict__.clear()
        if welcome is None:  # a repeated conversation_started: say nothing twice
            return HttpResponse(b"", content_type="application/json")
        return HttpResponse(
            json.dumps(welcome, ensure_ascii=False), content_type="application/json"
        )


def _button(text: str, body: str) -> dict[str, Any]:
    return {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": body, "Text": text[:250]}


T = TypeVar("T")


def _required(value: T | None, field: str) -> T:
    if value is None:
        raise ValueError(f"'{field}' is missing")
    return value


def _id(value: str | None) -> str:
    if not value:
        raise ValueError(f"a Viber user id is a non-empty string, not {value!r}")
    return value  # case-sensitive: never folded


def _token(event: Callback) -> str:
    token = event.message_token
    if token is None or not str(token):
        raise ValueError(f"message_token {token!r}")
    return str(token)


def _at(event: Callback) -> datetime | None:
    if event.timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(event.timestamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
