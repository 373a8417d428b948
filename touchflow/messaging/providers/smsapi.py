"""SMSAPI.pl (https://www.smsapi.pl/docs): SMS out, delivery reports and replies back in.

Out: ``POST {base}/sms.do`` with ``Authorization: Bearer <token>`` and the form fields
``to`` (digits, no "+"), ``message``, ``from`` (a registered sender name; left out, the
account's default is used), ``format=json``, ``encoding=utf-8``, ``notify_url`` (this
account's webhook URL), and for a touch ``idx=<idempotency key>`` with ``check_idx=1``.
The answer is ``{"count": 1, "list": [{"id", "points", "number", "status": "QUEUE",
"idx", …}]}`` or ``{"error": <code>, "message": …}`` (also with HTTP 200).

Nothing sent twice: with ``check_idx=1`` SMSAPI refuses a second message with the same
idx (error 53, "message with the same idx has been already sent"). That is what a retry
after a timeout gets when the first request went through, so 53 means *sent*. Its
message id is then unknown, which is why a touch's provider id is its idx, not
SMSAPI's MsgId: delivery reports carry the idx back, and receipts find the touch by
it. (A free-form text has no idx; its provider id is the MsgId.)

Errors: 13 no valid number / 57 number on the blacklist, 11 too long, 14 bad sender,
101/102 bad token, 105 IP not allowed: final. 201 (SMSAPI's internal error), 202/203
(too many requests), 103 (no points left: an account matter a top-up fixes, so the
bounded retries give the store that time), HTTP 429 and 5xx, timeouts: retry.

In: SMSAPI signs nothing, so the webhook key in the URL path
(``/hooks/smsapi/<key>/``) is the secret — keep it out of logs, and rotate it with the
account if it leaks. ``credentials["allowed_ips"]`` (addresses or networks) also
refuses callers whose ``REMOTE_ADDR`` is elsewhere; behind a proxy that needs
``REMOTE_ADDR`` set to the real client. Delivery reports (``MsgId``, ``status`` 404
DELIVERED, 405 UNDELIVERED, 402 EXPIRED, 406 FAILED, 407 REJECTED…, ``idx``,
``donedate``; several reports as comma-separated lists) may come by GET or POST;
replies to a two-way number (``sms_from``, ``sms_to``, ``sms_text``, ``sms_date``,
``MsgId``) by POST. SMSAPI wants the body ``OK``. UNDELIVERED (bad or dead number)
and REJECTED (refused for the number by the operator) fall back to the step's next
channel; EXPIRED (the phone stayed off) and FAILED (SMSAPI's own trouble) are only
recorded. SMSAPI handles no STOP itself: stop words are ours to apply and confirm.

Credentials: ``{"token", "from"}``; optional ``"allowed_ips"``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.http import HttpRequest, HttpResponse
from pydantic import Field, StrictInt, field_validator

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
    WebhookRefused,
    parse_shape,
    read_answer,
    sms_with_replies,
)

DUPLICATE_IDX = 53
RETRY_ERRORS = frozenset({103, 201, 202, 203})

# Report status → (receipt status, permanent, what it means)
REPORTS: dict[str, tuple[str, bool, str]] = {
    "404": ("delivered", False, "DELIVERED"),
    "405": ("failed", True, "UNDELIVERED"),
    "407": ("failed", True, "REJECTED"),
    "402": ("failed", False, "EXPIRED"),
    "406": ("failed", False, "FAILED"),
}
REPORT_NAMES = {name: code for code, (_s, _p, name) in REPORTS.items()}


# -- what SMSAPI answers and calls back with, parsed at the edge into these -----------
# sms.do's answers are NumberedShapes: a number where text is documented is read as its
# digits rather than refusing the answer. One that is neither shape (not JSON, an
# ``error`` that is not a number…) is read as no answer: the result names the HTTP
# status and the raw text.


class Queued(NumberedShape):
    """One message sms.do took."""

    id: str = ""  # SMSAPI's MsgId
    points: OrNone[float] = None  # what it cost
    number: OrNone[str] = None  # the recipient, digits
    status: OrNone[str] = None  # "QUEUE"


class Taken(NumberedShape):
    """``{"count": 1, "list": [...]}``: a list with an entry says the message was taken;
    what the entries say cannot turn that into a failure (one that is not an object, or
    not a Queued, is None)."""

    count: OrNone[int] = None
    messages: list[OrNone[Queued]] = Field(alias="list")


class Refused(NumberedShape):
    """``{"error": <code>, "message": ...}``, also with HTTP 200."""

    error: StrictInt
    message: OrNone[str] = None


class ReceivedSms(FormShape):
    """A reply to a two-way number."""

    sms_from: str = ""  # the customer, digits without "+"
    sms_to: str = ""  # our two-way number (the account is known by the URL)
    sms_text: str = ""
    sms_date: datetime | None = None  # unix seconds; an unusable one is ignored
    msg_id: str = Field("", alias="MsgId")

    @field_validator("sms_date", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return _timestamp(value) if isinstance(value, str) else None


class Reports(FormShape):
    """One delivery report, or several as comma-separated lists of one length."""

    msg_id: str = Field(alias="MsgId")
    status: str  # a code ("404") or its name ("DELIVERED")
    idx: str = ""  # ours, given with the message: a touch's idempotency key
    donedate: str = ""  # unix seconds (not read: the receipt is taken when it comes)


class SmsapiProvider(Provider):
    name = "smsapi"
    channel = "sms"
    default_base_url = "https://api.smsapi.pl"
    required_credentials = ("token",)
    # SMSAPI limits its HTTP API to about 100 requests a second from one IP address
    # (smsapi.com/docs, as summarised by api-evangelist's smsapi-rate-limits.yml; no
    # per-account figure is published). ``idx`` with ``check_idx=1`` makes a repeat a
    # refusal (error 53), so a retry never sends twice.
    default_rate: ClassVar[float] = 100.0
    honours_idempotency_key: ClassVar[bool] = True

    # -- sending --------------------------------------------------------------------------

    def _fields(self, to: str, text: str, idx: str) -> dict[str, str]:
        fields = {
            "to": to.strip().lstrip("+"),
            "message": text,
            "format": "json",
            "encoding": "utf-8",
        }
        sender = str(self.account.credentials.get("from") or self.account.handle)
        if sender:
            fields["from"] = sender
        if idx:
            fields["idx"] = idx
            fields["check_idx"] = "1"
        if self.account.webhook_url:
            fields["notify_url"] = self.account.webhook_url
        return fields

    def send_sms(self, fields: dict[str, str]) -> SendResult:
        """One sms.do call mapped to a result (see the module docstring)."""
        token = str(self.account.credentials.get("token", ""))
        try:
            response = self.request(
                "POST",
                f"{self.base_url}/sms.do",
                data=fields,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            return self.network_error(exc)
        idx = fields.get("idx", "")
        refused = read_answer(Refused, response)
        if refused is not None:
            error = f"SMSAPI {refused.error}: {refused.message or ''}"
            if refused.error == DUPLICATE_IDX and idx:
                return SendResult.sent(idx)
            if refused.error in RETRY_ERRORS:
                return SendResult.retry(error, self.retry_after(response))
            if transient(response.status_code):
                return SendResult.retry(error, self.retry_after(response))
            return SendResult.failed(error)
        taken = read_answer(Taken, response)
        if 200 <= response.status_code < 300 and taken is not None and taken.messages:
            first = taken.messages[0]
            return SendResult.sent(idx or (first.id if first is not None else ""))
        error = f"SMSAPI HTTP {response.status_code}: {response.text[:200]}"
        if transient(response.status_code):
            return SendResult.retry(error, self.retry_after(response))
        return SendResult.failed(error)

    def send_one(self, message: OutgoingMessage) -> SendResult:
        text = sms_with_replies(message.text, message.quick_replies)
        return self.send_sms(self._fields(message.address, text, message.idempotency_key))

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        text = sms_with_replies(text, quick_replies)
        if unsubscribe_button:
            text += f"\n{stop_texts.sms_stop_line(language)}"
        return self.send_sms(self._fields(address, text, ""))

    # -- webhook ------------------------------------------------------------------------

    def _check_caller(self, request: HttpRequest) -> None:
        allowed = self.account.credentials.get("allowed_ips") or []
        if not allowed:
            return  # the webhook key in the path is the only secret
        try:
            caller = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError as exc:
            raise WebhookRefused("caller address unknown") from exc
        if not any(caller in network for network in _networks(allowed)):
            raise WebhookRefused(f"{caller} is not an allowed SMSAPI address")

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        self._check_caller(request)
        try:
            params = request.POST if request.method == "POST" else request.GET
        except ValueError as exc:
            raise MalformedWebhook(f"body is not a form: {exc}") from exc
        fields = params.dict()
        if "sms_from" in fields or "sms_text" in fields:
            return [self._incoming(parse_shape(ReceivedSms, fields, "an SMSAPI reply"))]
        if "MsgId" in fields and "status" in fields:
            return self._reports(parse_shape(Reports, fields, "SMSAPI delivery reports"))
        raise MalformedWebhook("neither a delivery report (MsgId, status) nor an SMS (sms_from)")

    def takes_get(self, request: HttpRequest) -> bool:
        """SMSAPI may call the report callback by GET."""
        return "MsgId" in request.GET

    def _incoming(self, sms: ReceivedSms) -> Inbound:
        if not sms.sms_from or not sms.msg_id:
            raise MalformedWebhook("sms_from and MsgId are required")
        # SMSAPI writes numbers as digits ("48500100200"); we keep E.164.
        sender = sms.sms_from.strip()
        sender = sender if sender.startswith("+") else f"+{sender}"
        return Text(f"mo:{sms.msg_id}", sender, sms.sms_text, at=sms.sms_date)

    def _reports(self, reports: Reports) -> list[Inbound]:
        ids = reports.msg_id.split(",")
        statuses = reports.status.split(",")
        idxs = reports.idx.split(",") if reports.idx else [""] * len(ids)
        if not (len(ids) == len(statuses) == len(idxs)) or not all(ids):
            raise MalformedWebhook("MsgId, status and idx lists differ in length")
        items: list[Inbound] = []
        for msg_id, raw, idx in zip(ids, statuses, idxs, strict=True):
            code = REPORT_NAMES.get(raw.strip().upper(), raw.strip())
            if code not in REPORTS:
                continue  # SENT, QUEUED, ACCEPTED, UNKNOWN…: nothing final yet
            outcome, permanent, meaning = REPORTS[code]
            error = "" if outcome == "delivered" else f"SMSAPI {code} {meaning}"
            items.append(
                Receipt(
                    f"{msg_id}:{code}",
                    idx.strip() or msg_id.strip(),
                    outcome,
                    error=error,
                    permanent=permanent,
                )
            )
        return items

    def acknowledge(self, applied: int, duplicates: int) -> HttpResponse:
        """SMSAPI repeats a callback until it reads ``OK``."""
        return HttpResponse("OK", content_type="text/plain")


def _timestamp(raw: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _networks(entries: Sequence[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The allow-list as networks; an entry that is not an address is skipped."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            continue
    return networks

