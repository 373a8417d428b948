"""WhatsApp Business Cloud API (Graph API: ``POST /{version}/{phone_number_id}/messages``).

Out: inside the customer-service window (24 hours after the customer's last message,
``messaging.whatsapp_window``) a touch goes as free-form text, with reply buttons for
its quick replies and the unsubscribe button; outside it, as the account's approved
template with the rendered text as body parameter ``{{1}}``. A staff reply
(``send_text``) outside the window fails: WhatsApp takes no free-form message then.

In: the webhook's GET verification (``hub.challenge``) and POSTs signed with
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret): customer
messages (text, template quick-reply buttons, interactive reply buttons; ``START
<token>`` from the counter's QR link ``https://wa.me/<number>?text=START%20<token>``)
and statuses of what we sent (delivered, read, failed).

Credentials: ``{"token": "<access token>", "app_secret": "…", "verify_token": "…",
"phone_number_id": "…", "template": "<approved template name>",
"template_language": {"en": "en_US", …} (optional), "api_version": "v21.0"
(optional)}``. The account's handle is the business's phone number: the counter's
QR link (``messaging.optin_links``) opens a chat with it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from pydantic import Field, field_validator

from touchflow.core import clock, stop_texts
from touchflow.core.contacts import normalize_phone
from touchflow.core.errors import InvalidInput
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import transient
from touchflow.messaging import whatsapp_window
from touchflow.messaging.providers.base import (
    QUICK_STOP,
    Inbound,
    MalformedWebhook,
    NumberedShape,
    Provider,
    Receipt,
    Start,
    Text,
    Unauthenticated,
    WebhookRefused,
    parse_shape,
)

API_VERSION = "v21.0"

# Limits of the Cloud API's message objects.
TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
TEMPLATE_PARAM_MAX = 900  # the template's own words share its 1,024-character body

# Errors worth another try later: Graph's unknown/service errors, app and account
# rate limits, throughput (130429), the per-recipient pair limit (131056), "something
# went wrong" and "service unavailable".
RETRY_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004})
REENGAGEMENT = 131047  # free-form message outside the 24-hour window
# Failures that say this number cannot get our WhatsApp messages (a status webhook's
# ``errors``): the step goes on to its next channel. 131026 undeliverable (not on
# WhatsApp, blocked us, old client, terms not accepted), 131021 recipient is our own
# number, 131030 not in a test number's allowed list, 131050 the user stopped our
# marketing messages, 131047 the window closed before a free-form message got there
# (the message is lost on WhatsApp, but not for the customer).
PERMANENT_CODES = frozenset({131021, 131026, 131030, 131047, 131050})

# The counter's QR link pre-fills "START <token>" (secrets.token_urlsafe: 22 characters).
START_CODE = re.compile(r"^\s*start\s+([A-Za-z0-9_-]{16,64})\s*$", re.IGNORECASE)
# Template parameters may hold no new lines, tabs or more than four spaces in a row.
WHITESPACE = re.compile(r"\s+")

RECEIPT_STATUSES = ("delivered", "read", "failed")
HEARD_MAX = 10_000


# -- the notification fields the webhook reads (Cloud API webhooks, field "messages") --
# Ids and numbers arrive as strings; one sent as a JSON number is taken as its digits.


class Profile(NumberedShape):
    name: str = ""


class WaContact(NumberedShape):
    wa_id: str
    profile: Profile | None = None


class TextBody(NumberedShape):
    body: str


class Button(NumberedShape):
    """A template's quick-reply button pressed."""

    payload: str | None = None
    text: str | None = None


class Reply(NumberedShape):
    id: str | None = None


class Interactive(NumberedShape):
    type: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class WaMessage(NumberedShape):
    sender: str = Field(alias="from")
    id: str
    timestamp: int
    type: str | None = None
    text: TextBody | None = None
    button: Button | None = None
    interactive: Interactive | None = None


class StatusError(NumberedShape):
    code: int | None = None
    title: str | None = None
    message: str | None = None


class Status(NumberedShape):
    id: str
    status: str
    errors: list[StatusError] = []

    @field_validator("errors", mode="before")
    @classmethod
    def _objects_only(cls, value: object) -> object:
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else value


class Metadata(NumberedShape):
    phone_number_id: str | None = None


class Value(NumberedShape):
    metadata: Metadata | None = None
    contacts: list[WaContact] = []
    messages: list[WaMessage] = []
    statuses: list[Status] = []


class Change(NumberedShape):
    field: str | None = None
    value: Value | None = None


class Entry(NumberedShape):
    changes: list[Change] | None = None


class Notification(NumberedShape):
    object: str | None = None
    entry: list[Entry]


class WhatsAppProvider(Provider):
    name = "whatsapp"
    channel = "whatsapp"
    default_base_url = "https://graph.facebook.com"
    required_credentials = ("token", "phone_number_id")
    # "For each registered business phone number, Cloud API supports up to 80 messages
    # per second by default" (developers.facebook.com/documentation/business-messaging/
    # whatsapp/throughput; up to 1,000 after Meta's automatic upgrade: set the account's
    # rate). biz_opaque_callback_data only rides along to the webhooks; Graph API does
    # not drop a repeated request.
    default_rate: ClassVar[float] = 80.0
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Customers' messages this process took in from webhooks, by E.164: they open
        # the window at once, also for the answer to a message that updates no
        # contact point (an opt-in code, STOP) — ContactPoint.last_inbound_at is the
        # record that every process shares.
        self._heard: dict[str, datetime] = {}

    # -- sending ------------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, Any]:
        return self.account.credentials

    def _messages_url(self) -> str:
        version = self.credentials.get("api_version") or API_VERSION
        number = self.credentials.get("phone_number_id", "")
        return f"{self.base_url}/{version}/{number}/messages"

    def post(self, payload: dict[str, Any]) -> tuple[SendResult, int | None]:
        """One message to the Graph API, mapped to a result and WhatsApp's error code:
        200 with ``messages[0].id`` is sent; 5xx, 429 and the rate-limit codes retry
        (``Retry-After`` honoured when given); other errors are final."""
        headers = {"Authorization": f"Bearer {self.credentials.get('token', '')}"}
        try:
            response = self.request("POST", self._messages_url(), json=payload, headers=headers)
        except httpx.HTTPError as exc:
            return self.network_error(exc), None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        body: dict[str, Any] = answer if isinstance(answer, dict) else {}
        if response.status_code == 200:
            sent = _message_id(body)
            if sent:
                return SendResult.sent(sent), None
            # Taken but unnamed: sending again could deliver it twice.
            return SendResult.failed("WhatsApp answered 200 without a message id"), None
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        text = _describe(error, code or response.status_code, response.text[:200])
        if transient(response.status_code) or code in RETRY_CODES:
            return SendResult.retry(text, self.retry_after(response)), code
        return SendResult.failed(text), code

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        heard = self.last_heard([m.address for m in messages])
        return [self._send_touch(m, heard.get(_e164(m.address))) for m in messages]

    def send_one(self, message: OutgoingMessage) -> SendResult:
        return self.send([message])[0]

    def sender_for(self, message: OutgoingMessage) -> Callable[[OutgoingMessage], SendResult]:
        """The customer-service window is read now (the database), the send later."""
        heard = self.last_heard([message.address]).get(_e164(message.address))
        return lambda m: self._send_touch(m, heard)

    def _send_touch(self, message: OutgoingMessage, heard: datetime | None) -> SendResult:
        if whatsapp_window.is_open(heard, clock.now()):
            label = stop_texts.stop_label(message.language)
            payload = _free_form(message.address, message.text, message.quick_replies, label)
            result, code = self.post(_tracked(payload, message))
            if code != REENGAGEMENT:
                return result
            # The window closed between our look and WhatsApp's: the template goes.
        return self._send_template(message)

    def _send_template(self, message: OutgoingMessage) -> SendResult:
        name = self.credentials.get("template")
        if not name:
            return SendResult.failed(
                "WhatsApp: the customer has not written in the last 24 hours, so only a "
                "template may go, and this account has none (credentials 'template')"
            )
        languages = self.credentials.get("template_language") or {}
        param = WHITESPACE.sub(" ", message.text).strip()
        if len(param) > TEMPLATE_PARAM_MAX:
            param = param[: TEMPLATE_PARAM_MAX - 1] + "…"
        payload = _envelope(
            message.address,
            "template",
            {
                "name": name,
                "language": {"code": languages.get(message.language) or message.language},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": param}]}],
            },
        )
        return self.post(_tracked(payload, message))[0]

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        if not whatsapp_window.is_open(self.last_heard([address]).get(_e164(address)), clock.now()):
            return SendResult.failed(
                _(
                    "WhatsApp allows a free-form message only within 24 hours of the "
                    "customer's last message to you. Wait until they write again, or reach "
                    "them on another channel."
                )
            )
        label = stop_texts.stop_label(language) if unsubscribe_button else ""
        return self.post(_free_form(address, text, quick_replies, label))[0]

    # -- the window ---------------------------------------------------------------------

    def last_heard(self, addresses: Sequence[str]) -> dict[str, datetime]:
        """E.164 → when the customer last wrote to us: the contact points (one query)
        and this process's own webhooks, whichever is later."""
        phones = {_e164(a) for a in addresses}
        known = whatsapp_window.last_inbound(phones)
        for phone in phones:
            seen = self._heard.get(phone)
            if seen is not None and (phone not in known or known[phone] < seen):
                known[phone] = seen
        return known

    def _hear(self, address: str, at: datetime) -> None:
        if len(self._heard) >= HEARD_MAX:
            self._heard.clear()  # a bounded memory; the contact points keep the record
        phone = _e164(address)
        if phone not in self._heard or self._heard[phone] < at:
            self._heard[phone] = at

    # -- webhook ------------------------------------------------------------------------

    def handshake(self, request: HttpRequest) -> HttpResponse | None:
        """Meta's subscription check: ``hub.mode=subscribe`` with our verify token is
        answered with ``hub.challenge`` as plain text; a wrong token gets 403."""
        if "hub.mode" not in request.GET:
            return None
        expected = str(self.credentials.get("verify_token", ""))
        given = request.GET.get("hub.verify_token", "")
        if (
            request.GET.get("hub.mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            return HttpResponse(
                "verify token does not match", status=403, content_type="text/plain"
            )
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        self._check_signature(request)
        body = self.json_body(request)
        if isinstance(body, dict) and isinstance(body.get("entry"), list) and \
                body.get("object") != "whatsapp_business_account":
            return []  # another product's notification: not ours to read
        notification = parse_shape(Notification, body, "a WhatsApp notification")
        try:
            return list(self._items(notification.entry))
        except (ValueError, OverflowError, OSError) as exc:
            raise MalformedWebhook(f"unexpected notification values: {exc}") from exc

    def _check_signature(self, request: HttpRequest) -> None:
        given = request.headers.get("X-Hub-Signature-256")
        if given is None:
            raise Unauthenticated("X-Hub-Signature-256 is missing")
        secret = str(self.credentials.get("app_secret", ""))
        digest = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(
            given.strip().lower().encode(), f"sha256={digest}".encode()
        ):
            raise WebhookRefused("X-Hub-Signature-256 does not match")

    def _items(self, entries: list[Entry]) -> Iterator[Inbound]:
        for entry in entries:
            for change in entry.changes or []:
                if change.field != "messages":
                    continue
                if change.value is None:
                    raise ValueError("a messages change without its value")
                value = change.value
                if not self._ours(value):
                    continue
                names = {c.wa_id: c.profile.name if c.profile else "" for c in value.contacts}
                for message in value.messages:
                    item = self._message(message, names)
                    if item is not None:
                        yield item
                for status in value.statuses:
                    if status.status in RECEIPT_STATUSES:
                        yield _receipt(status)

    def _ours(self, value: Value) -> bool:
        """Events of another phone number of the same business account are not ours."""
        mine = str(self.credentials.get("phone_number_id") or "")
        theirs = (value.metadata.phone_number_id if value.metadata else None) or ""
        return not mine or not theirs or mine == theirs

    def _message(self, message: WaMessage, names: dict[str, str]) -> Inbound | None:
        at = datetime.fromtimestamp(message.timestamp, UTC)
        self._hear(message.sender, at)  # any message opens the window, a photo too
        text = _text_of(message)
        if text is None:
            return None  # photos, stickers, locations, reactions: nothing we act on
        name = names.get(message.sender, "")
        code = START_CODE.match(text)
        if code:
            return Start(message.id, message.sender, code.group(1), name)
        return Text(message.id, message.sender, text, name, at)


# -- payloads -------------------------------------------------------------------------


def _e164(address: str) -> str:
    digits = address.strip()
    digits = digits if digits.startswith("+") else "+" + digits
    try:
        return normalize_phone(digits)
    except InvalidInput:
        return digits


def _envelope(address: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": _e164(address).removeprefix("+"),
        "type": kind,
        kind: content,
    }


def _tracked(payload: dict[str, Any], message: OutgoingMessage) -> dict[str, Any]:
    """The touch's idempotency key rides along and comes back in status webhooks."""
    return {**payload, "biz_opaque_callback_data": message.idempotency_key[:512]}


def _free_form(
    address: str, text: str, quick_replies: Sequence[str], stop_label: str
) -> dict[str, Any]:
    """Reply buttons (at most three: the quick replies, then the unsubscribe button
    if there is room) on an interactive message; plain text when there are none or the
    text is longer than an interactive body may be."""
    buttons: list[tuple[str, str]] = []
    for reply in dict.fromkeys(r for r in quick_replies if r.strip()):
        buttons.append((reply[:BUTTON_ID_MAX], reply[:BUTTON_TITLE_MAX]))
    if stop_label:
        buttons.append((QUICK_STOP, stop_label[:BUTTON_TITLE_MAX]))
    buttons = buttons[:BUTTONS_MAX]
    if not buttons or len(text) > INTERACTIVE_BODY_MAX:
        return _envelope(address, "text", {"preview_url": False, "body": text[:TEXT_MAX]})
    return _envelope(
        address,
        "interactive",
        {
            "type": "button",
            "body": {"text": text},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in buttons]
            },
        },
    )


def _message_id(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("id") or "")
    return ""


def _describe(error: dict[str, Any], code: int, fallback: str) -> str:
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    text = f"WhatsApp {code}: {error.get('message') or fallback}"
    return f"{text} ({details})" if details else text


# -- webhook items --------------------------------------------------------------------


def _text_of(message: WaMessage) -> str | None:
    if message.type == "text":
        if message.text is None:
            raise ValueError("a text message without its text")
        return message.text.body
    if message.type == "button":  # a template's quick-reply button
        button = message.button
        if button is None or not (button.payload or button.text):
            raise ValueError("a button message without its payload or text")
        return button.payload or button.text
    if message.type == "interactive" and message.interactive is not None:
        interactive = message.interactive
        reply = {"button_reply": interactive.button_reply,
                 "list_reply": interactive.list_reply}.get(interactive.type or "")
        return reply.id if reply is not None else None
    return None


def _receipt(status: Status) -> Receipt:
    error = "; ".join(
        f"WhatsApp {e.code}: {e.title or e.message or ''}".strip() for e in status.errors
    )
    permanent = any(e.code in PERMANENT_CODES for e in status.errors)
    # delivered and read of one message are distinct events; a retry repeats its id.
    return Receipt(f"{status.id}:{status.status}", status.id, status.status, error, permanent)
