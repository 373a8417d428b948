"""E-mail through Mailgun (https://documentation.mailgun.com/), sent with django-anymail.

Out: anymail's Mailgun backend, built per account (API key, sender domain, API URL)
rather than from settings, so every store sends with its own Mailgun account. With
``reuse`` the backend's HTTP session stays open across sends; without it every message
opens and closes its own. ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058)
lets mail clients unsubscribe in one click; the touch's idempotency key travels as
Mailgun custom data (``v:touchflow_key``) and an ``X-Touchflow-Key`` header, so an
event or a bounce can be traced back to the touch. The provider id is Mailgun's
message id without the angle brackets: what its events carry in
``message.headers.message-id``.

In: Mailgun's JSON event webhooks, signed in the body (``signature``: hex
HMAC-SHA256 of timestamp + token with the webhook signing key). delivered → receipt;
opened/clicked → "read"; failed permanent → a failed receipt (the step falls back to
its next channel) plus a bounce (hard when it is about the address); failed temporary
→ a soft bounce only (Mailgun keeps trying); complained → complaint; unsubscribed →
unsubscribed (both withdraw e-mail consent).

Credentials: ``{"api_key", "domain", "webhook_signing_key"}``; handle: the From
address (``Shop <shop@mg.example.com>``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from anymail.exceptions import AnymailAPIError, AnymailError
from anymail.message import AnymailMessage
from django.core.mail import get_connection
from django.http import HttpRequest
from pydantic import Field, StrictStr

from touchflow.core import clock
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import retry_after_seconds, transient
from touchflow.messaging.providers.base import (
    Bounce,
    Complaint,
    Inbound,
    MalformedWebhook,
    NumberedShape,
    Provider,
    Receipt,
    Unauthenticated,
    Unsubscribed,
    WebhookRefused,
    parse_shape,
)

BACKEND = "anymail.backends.mailgun.EmailBackend"

# How old a signed webhook may be. Mailgun retries an unanswered webhook for 8 hours;
# if a retry carries the first attempt's signature, a tighter window would refuse it
# and lose a bounce. A replay inside the window changes nothing: events apply once.
MAX_AGE = timedelta(hours=24)
MAX_AHEAD = timedelta(minutes=5)  # clock skew

# A permanent failure with these reasons is about the address: it is marked
# undeliverable. Others ("old": gave up retrying, "espblock") fail this message only.
HARD_REASONS = {"bounce", "suppress-bounce"}


class MailgunProvider(Provider):
    name = "mailgun"
    channel = "email"
    default_base_url = "https://api.mailgun.net/v3"
    required_credentials = ("api_key",)
    needs_sender = True  # the handle: the From address
    # Mailgun's documentation gives no per-second limit for sending (only its Domains
    # API: 300 requests a minute); Mailgun support has quoted 4,500 messages a minute
    # (laracasts.com/discuss/channels/laravel/does-mailgun-driver-handle-rate-limiting),
    # so 75/s. The X-Touchflow-Key header is only carried: Mailgun does not drop a
    # repeated message.
    default_rate: ClassVar[float] = 75.0
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend: Any = None

    # -- sending ------------------------------------------------------------------------

    def backend(self) -> Any:
        """Anymail's Mailgun backend for this account; kept open when reusing."""
        if self._backend is None:
            credentials = self.account.credentials
            self._backend = get_connection(
                BACKEND,
                api_key=str(credentials.get("api_key", "")),
                sender_domain=str(credentials.get("domain", "")) or None,
                api_url=self.base_url,
                timeout=self.timeout,
            )
            if self.reuse:
                self._backend.open()
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        super().close()

    def send_one(self, message: OutgoingMessage) -> SendResult:
        headers = {"X-Touchflow-Key": message.idempotency_key}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail = self._mail(message.address, message.subject, message.text, headers)
        mail.metadata = {"touchflow_key": message.idempotency_key}
        return self.deliver(mail)

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        """A staff reply or a confirmation. E-mail has no buttons: quick replies and the
        unsubscribe button are not shown (there is no customer link to build one from)."""
        return self.deliver(self._mail(address, "", text, {}))

    def _mail(self, to: str, subject: str, text: str, headers: dict[str, str]) -> AnymailMessage:
        return AnymailMessage(
            subject=subject or _first_line(text),
            body=text,
            from_email=self.account.handle,
            to=[to],
            headers=headers,
        )

    def deliver(self, mail: AnymailMessage) -> SendResult:
        """Send one message: Mailgun's ``{"id": "<…>", "message": "Queued. Thank you."}``
        is sent; 429 (honouring Retry-After), 5xx and network errors retry; other API
        errors (400 invalid address, 401 bad key, 404 unknown domain) are final."""
        credentials = self.account.credentials
        if not credentials.get("api_key") or not self.account.handle:
            return SendResult.failed("Mailgun account without an API key or a From address")
        try:
            self.backend().send_messages([mail])
        except AnymailAPIError as exc:
            return _api_error(exc)
        except AnymailError as exc:  # refused before any request: a bad address, …
            return SendResult.failed(f"Mailgun: {_first_line(str(exc), 300)}")
        message_id = mail.anymail_status.message_id
        return SendResult.sent(str(message_id or "").strip("<>"))

    # -- webhook ------------------------------------------------------------------------

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        body = self.json_body(request)
        if not isinstance(body, dict):
            raise MalformedWebhook("a JSON object is expected")
        self._verify(body.get("signature"))
        data = parse_shape(EventData, body.get("event-data"), "Mailgun event-data")
        try:
            return _items(data)
        except ValueError as exc:
            raise MalformedWebhook(f"unexpected {data.event} event: {exc}") from exc

    def _verify(self, block: Any) -> None:
        """Mailgun's signature: hex HMAC-SHA256(signing key, timestamp + token)."""
        fields = ("timestamp", "token", "signature")
        if not isinstance(block, dict) or any(block.get(f) in (None, "") for f in fields):
            raise Unauthenticated("the signature block is missing")
        timestamp, token, signature = (str(block[f]) for f in fields)
        key = str(self.account.credentials.get("webhook_signing_key", ""))
        expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256)
        if not key or not hmac.compare_digest(expected.hexdigest(), signature):
            raise WebhookRefused("the signature does not match")
        try:
            signed_at = datetime.fromtimestamp(float(timestamp), clock.now().tzinfo)
        except (ValueError, OverflowError, OSError) as exc:
            raise WebhookRefused("the signature's timestamp is not a time") from exc
        now = clock.now()
        if not now - MAX_AGE <= signed_at <= now + MAX_AHEAD:
            raise WebhookRefused("the signature's timestamp is too old or in the future")


# -- the event-data fields the webhook reads (https://documentation.mailgun.com, "Events")
# Ids and codes sent as JSON numbers are taken as their digits.


class Headers(NumberedShape):
    message_id: str = Field(alias="message-id")


class MessageInfo(NumberedShape):
    headers: Headers


class DeliveryStatus(NumberedShape):
    code: str | None = None
    description: str | None = None
    message: str | None = None


class EventData(NumberedShape):
    event: StrictStr
    id: str = Field(min_length=1)
    recipient: str | None = None
    message: MessageInfo | None = None
    severity: str | None = None
    reason: str | None = None
    delivery_status: DeliveryStatus | None = Field(None, alias="delivery-status")


def _items(data: EventData) -> list[Inbound]:
    event, event_id = data.event, data.id
    if event == "complained":
        return [Complaint(event_id, _recipient(data))]
    if event == "unsubscribed":
        return [Unsubscribed(event_id, _recipient(data))]
    if event not in ("delivered", "opened", "clicked", "failed"):
        return []  # accepted, stored, …: nothing we keep
    if data.message is None:
        raise ValueError("'message' is missing")
    message_id = data.message.headers.message_id.strip().strip("<>")
    if event == "delivered":
        return [Receipt(event_id, message_id, "delivered")]
    if event in ("opened", "clicked"):
        return [Receipt(event_id, message_id, "read")]
    address = _recipient(data)
    error = _failure(data)
    if data.severity != "permanent":
        return [Bounce(event_id, address, hard=False, error=error)]
    reason = data.reason or ""
    # The receipt keeps the event's own id; what else the failure means gets a suffix.
    receipt = Receipt(event_id, message_id, "failed", error, permanent=True)
    if reason == "suppress-unsubscribe":
        return [receipt, Unsubscribed(f"{event_id}:unsubscribed", address)]
    if reason == "suppress-complaint":
        return [receipt, Complaint(f"{event_id}:complaint", address)]
    hard = reason in HARD_REASONS or (reason == "generic" and _code(data) // 100 == 5)
    return [receipt, Bounce(f"{event_id}:bounce", address, hard=hard, error=error)]


def _recipient(data: EventData) -> str:
    if data.recipient is None:
        raise ValueError("'recipient' is missing")
    return data.recipient


def _failure(data: EventData) -> str:
    status = data.delivery_status or DeliveryStatus()
    text = status.description or status.message or data.reason or ""
    return f"{status.code or ''} {text}".strip()[:300]


def _code(data: EventData) -> int:
    try:
        return int((data.delivery_status.code if data.delivery_status else None) or 0)
    except ValueError:
        return 0


def _api_error(exc: AnymailAPIError) -> SendResult:
    code = exc.status_code
    response = exc.response
    if code is None or response is None:  # no answer: connection refused, timeout
        cause = exc.__cause__ or exc
        return SendResult.retry(f"Mailgun: {type(cause).__name__}: {_first_line(str(cause))}")
    try:
        detail = response.json().get("message", "")
    except (ValueError, AttributeError):
        detail = ""
    error = f"Mailgun {code}: {detail or response.text[:200]}"
    if transient(code):
        return SendResult.retry(error, retry_after_seconds(response.headers.get("Retry-After")))
    return SendResult.failed(error)


def _first_line(text: str, limit: int = 78) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
