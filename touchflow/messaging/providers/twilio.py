"""Twilio Programmable Messaging: SMS out, replies and delivery receipts back in.

Out: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic
(AccountSid:AuthToken) and the form fields ``To``, ``From`` (or ``MessagingServiceSid``),
``Body`` and ``StatusCallback`` (this account's webhook URL). 201 carries the message
``sid``: receipts find their touch by it. Errors are ``{"code", "message", "more_info",
"status"}``: 429 / code 20429, 21611 (sender queue full) and 5xx retry; the rest is final
(21211 invalid number, 21610 the recipient texted STOP to this sender, 21614 not a
mobile…). Twilio's Messages API has no idempotency key: a request that timed out after
Twilio took it is sent again on retry.

Why ``httpx`` and not ``twilio.rest.Client`` for sending: the SDK builds its URLs from
fixed ``*.twilio.com`` hosts (region/edge only rename them), so a proxy or a local test
server needs a URL-rewriting HTTP client; its ``TwilioRestException`` drops the
response headers, so a 429's ``Retry-After`` is lost; and sending through
``Provider.request`` keeps connection reuse, timeouts and the retry rules the same as
every other provider. The SDK is used where it is the reference: the webhook signature
(``twilio.request_validator``).

In: the number's "A message comes in" webhook and the status callbacks both point at
``account.webhook_url`` (``TOUCHFLOW_PUBLIC_URL`` + ``/hooks/twilio/<key>/``), form
encoded. ``X-Twilio-Signature`` is an HMAC of *the URL Twilio called* plus the sorted
POST fields, so it is checked against the configured public URL (plus the query
string), never ``request.build_absolute_uri()``: behind a TLS-terminating proxy Django
sees ``http://backend:8000/…``, a URL Twilio never signed. Configure the number's
webhook with exactly that URL. Receipts: ``delivered`` and ``read``; ``undelivered`` /
``failed`` with an error code that is about the number (30005 unknown number, 30006
landline, 21610 unsubscribed…) is permanent and the step falls back to its next
channel; other failures (30003 phone off, 30007 carrier filtering…) are only recorded.

STOP: on long codes Twilio itself answers STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
REVOKE, OPTOUT (whole message, any case) with its own confirmation and blocks further
messages from that sender. Such a message becomes ``Unsubscribed`` (consent withdrawn
on SMS, no reply from us: the customer would get two confirmations, and Twilio would
refuse ours with 21610). With Advanced Opt-Out Twilio says so itself (``OptOutType``
STOP), custom keywords included. Every other stop word (СТОП, wypisz, "stop all") is a
``Text`` that the shared inbound rules confirm. An account whose STOP handling is
switched off at Twilio sets ``"twilio_handles_stop": false``: then every stop word is
ours to confirm.

Credentials: ``{"account_sid", "auth_token", "from"}``; optional
``"messaging_service_sid"`` (sent instead of ``From``) and ``"twilio_handles_stop"``
(default true). ``from`` falls back to the account's handle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import httpx
from django.http import HttpRequest, HttpResponse
from pydantic import Field, StrictInt, field_validator
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from touchflow.core import stop_texts
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import transient
from touchflow.messaging.providers.base import (
    FormShape,
    Inbound,
    MalformedWebhook,
    NumberedShape,
    OrNone,
    Provider,
    Receipt,
    Text,
    Unauthenticated,
    Unsubscribed,
    WebhookRefused,
    parse_shape,
    read_answer,
    sms_with_replies,
)

API_VERSION = "2010-04-01"
MAX_BODY = 1600  # Twilio refuses longer bodies (21617)

# Twilio's own opt-out keywords on long codes (a whole message, case-insensitive).
TWILIO_STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)

# Send errors worth another try: too many requests, the sender's queue is full.
RETRY_CODES = frozenset({20429, 21611})

# Failure codes in a status callback that are about the number itself: fall back.
ADDRESS_ERRORS = {
    21211: "invalid 'To' number",
    21610: "the recipient unsubscribed from this sender",
    21612: "the number cannot be reached from this sender",
    21614: "not a mobile number",
    30004: "message blocked by the recipient or the carrier",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
}
OTHER_ERRORS = {
    30001: "queue overflow",
    30002: "account suspended",
    30003: "unreachable destination handset",
    30007: "filtered by the carrier",
    30008: "unknown error",
}

RECEIPT_STATUS = {
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


# -- what Twilio answers and posts, parsed at the edge into these ---------------------
# Answers (twilio.com/docs/messaging/api/message-resource, twilio.com/docs/usage/
# twilios-response) are NumberedShapes: a number where text is documented is read as
# its digits rather than refusing the answer. A body that is not a JSON object is read
# as no answer: the result names the HTTP status and the raw text.


class MessageResource(NumberedShape):
    """What Messages.json answers 201 with: its ``sid`` alone says the message was taken
    (receipts find the touch by it); the rest cannot turn that into a failure."""

    sid: str | None = None
    status: OrNone[str] = None  # "queued", or "accepted" through a Messaging Service
    error_code: OrNone[int] = None
    error_message: OrNone[str] = None


class ApiError(NumberedShape):
    """Twilio's error body: ``{"code", "message", "more_info", "status"}``, each field
    read on its own (one of the wrong type is None)."""

    code: OrNone[StrictInt] = None  # Twilio's error code (20429, 21211…), not HTTP's
    message: OrNone[str] = None
    more_info: OrNone[str] = None
    status: OrNone[int] = None  # the HTTP status again


class MessageWebhook(FormShape):
    """The form fields of both webhooks that post about one message: "a message comes
    in" (twilio.com/docs/messaging/guides/webhook-request) and the status callback
    (twilio.com/docs/messaging/guides/track-outbound-message-status). The sid and the
    status come by their names and by the older ``Sms*`` ones, which Twilio still sends
    alongside them."""

    message_sid: str = Field("", alias="MessageSid")
    sms_sid: str = Field("", alias="SmsSid")
    message_status: str = Field("", alias="MessageStatus")
    sms_status: str = Field("", alias="SmsStatus")
    sender: str = Field("", alias="From")
    to: str = Field("", alias="To")  # our number (the account is known by the URL)
    body: str | None = Field(None, alias="Body")  # only an incoming message has one
    opt_out_type: str = Field("", alias="OptOutType")  # Advanced Opt-Out: "STOP", …
    error_code: int = Field(0, alias="ErrorCode")  # why a message failed; 0: not said

    @field_validator("error_code", mode="before")
    @classmethod
    def _code(cls, value: object) -> int:
        # Twilio's error codes are digits; anything else tells nothing (code 0).
        return int(value) if isinstance(value, str) and value.isdecimal() else 0

    @property
    def sid(self) -> str:
        return self.message_sid or self.sms_sid

    @property
    def status(self) -> str:
        return self.message_status or self.sms_status

    @property
    def incoming(self) -> bool:
        """A message the customer sent us, not news of one we sent."""
        return self.status == "received" or (not self.status and self.body is not None)


class TwilioProvider(Provider):
    name = "twilio"
    channel = "sms"
    default_base_url = "https://api.twilio.com"
    required_credentials = ("account_sid", "auth_token")
    needs_sender = True
    sender_credentials = ("from", "messaging_service_sid")
    # "A US long code number can send one message segment per second"; Twilio queues the
    # rest and fails them after the queue's validity period (twilio.com/docs/api/errors/
    # 30001, 21611). Short codes, toll-free numbers and Messaging Services with several
    # senders go faster: set the account's rate. No idempotency key (see above).
    default_rate: ClassVar[float] = 1.0
    honours_idempotency_key: ClassVar[bool] = False

    # -- sending --------------------------------------------------------------------------

    def _credential(self, key: str) -> str:
        return str(self.account.credentials.get(key, "") or "")

    def _fields(self, to: str, body: str, *, callback: bool) -> dict[str, str]:
        fields = {"To": to, "Body": body[:MAX_BODY]}
        service = self._credential("messaging_service_sid")
        if service:
            fields["MessagingServiceSid"] = service
        else:
            fields["From"] = self._credential("from") or self.account.handle
        if callback and self.account.webhook_url:
            fields["StatusCallback"] = self.account.webhook_url
        return fields

    def create_message(self, fields: dict[str, str]) -> SendResult:
        """One Messages.json POST mapped to a result (see the module docstring)."""
        sid = self._credential("account_sid")
        url = f"{self.base_url}/{API_VERSION}/Accounts/{sid}/Messages.json"
        try:
            response = self.request(
                "POST", url, data=fields, auth=(sid, self._credential("auth_token"))
            )
        except httpx.HTTPError as exc:
            return self.network_error(exc)
        if response.status_code in (200, 201):
            created = read_answer(MessageResource, response)
            if created is not None and created.sid:
                return SendResult.sent(created.sid)
        problem = read_answer(ApiError, response) or ApiError()
        code = problem.code
        text = problem.message or response.text[:200]
        error = f"Twilio {code or response.status_code}: {text}"
        if transient(response.status_code) or code in RETRY_CODES:
            return SendResult.retry(error, self.retry_after(response))
        return SendResult.failed(error)

    def send_one(self, message: OutgoingMessage) -> SendResult:
        body = sms_with_replies(message.text, message.quick_replies)
        return self.create_message(self._fields(message.address, body, callback=True))

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        body = sms_with_replies(text, quick_replies)
        if unsubscribe_button:
            body += f"\n{stop_texts.sms_stop_line(language)}"
        return self.create_message(self._fields(address, body, callback=False))

    # -- webhook ------------------------------------------------------------------------

    def signed_url(self, request: HttpRequest) -> str:
        """The URL Twilio signed: the configured public one, with the query it called."""
        query = request.META.get("QUERY_STRING", "")
        return self.account.webhook_url + (f"?{query}" if query else "")

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Unauthenticated(f"{SIGNATURE_HEADER} is missing")
        settings_header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        token = self._credential("webhook_signing_secret") if settings_header else ""
        validator = RequestValidator(token or self._credential("auth_token"))
        try:
            params = request.POST
        except ValueError as exc:
            raise MalformedWebhook(f"body is not a form: {exc}") from exc
        if not self._credential("auth_token") or not validator.validate(
            self.signed_url(request), params, signature, get_signature_algorithm(settings_header)
        ):
            raise WebhookRefused(f"{SIGNATURE_HEADER} does not match")
        event = parse_shape(MessageWebhook, params.dict(), "a Twilio webhook")
        if not event.sid:
            raise MalformedWebhook("MessageSid is missing")
        return self._incoming(event) if event.incoming else self._status(event)

    def _incoming(self, event: MessageWebhook) -> list[Inbound]:
        if not event.sender:
            raise MalformedWebhook("From is missing")
        body = event.body or ""
        if self._twilio_confirmed_stop(body, event.opt_out_type):
            return [Unsubscribed(event.sid, event.sender)]
        return [Text(event.sid, event.sender, body)]

    def _twilio_confirmed_stop(self, body: str, opt_out_type: str) -> bool:
        if opt_out_type.upper() == "STOP":
            return True
        handles = self.account.credentials.get("twilio_handles_stop", True)
        return bool(handles) and body.strip().upper() in TWILIO_STOP_WORDS

    def _status(self, event: MessageWebhook) -> list[Inbound]:
        sid, status, code = event.sid, event.status, event.error_code
        outcome = RECEIPT_STATUS.get(status)
        if outcome is None:
            return []  # queued, sending, sent, accepted…: nothing has happened yet
        if outcome != "failed":
            return [Receipt(f"{sid}:{status}", sid, outcome)]
        meaning = ADDRESS_ERRORS.get(code) or OTHER_ERRORS.get(code) or status
        return [
            Receipt(
                f"{sid}:{status}",
                sid,
                "failed",
                error=f"Twilio {code}: {meaning}",
                permanent=code in ADDRESS_ERRORS,
            )
        ]

    def acknowledge(self, applied: int, duplicates: int) -> HttpResponse:
        """Twilio reads the answer to an incoming message as TwiML: an empty
        ``<Response/>`` sends nothing back (our replies go through the API)."""
        return HttpResponse(
            '<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="text/xml"
        )
