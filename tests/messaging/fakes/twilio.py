"""Twilio's Messages API as documented (2010-04-01, JSON), and Twilio's signed webhooks.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP Basic, form fields; 201
with the Message resource, or an error ``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.messaging.fakes.base import Answer, FakeProvider, Request
from touchflow.messaging.segments import measure

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def error(code: int, message: str, status: int = 400) -> Answer:
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


INVALID_NUMBER = error(21211, "The 'To' number +4800 is not a valid phone number.")
UNSUBSCRIBED = error(21610, "Attempt to send to unsubscribed recipient")
TOO_MANY = Answer(
    429,
    {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    },
    headers={"Retry-After": "7"},
)
SERVER_ERROR = Answer(
    500,
    {
        "code": 20500,
        "message": "Internal Server Error",
        "more_info": "https://www.twilio.com/docs/errors/20500",
        "status": 500,
    },
)


class FakeTwilio(FakeProvider):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unsubscribed: set[str] = set()  # numbers that texted STOP to the sender
        self.routes = {("POST", f"/2010-04-01/Accounts/{account_sid}/Messages.json"): self.create}
        self.created = 0

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def create(self, request: Request) -> Answer:
        if not self._authorized(request):
            return error(20003, "Authenticate", 401)
        form = request.form()
        to, body = form.get("To", ""), form.get("Body", "")
        if not to:
            return error(21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return error(21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return UNSUBSCRIBED
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return error(21603, "A 'From' phone number is required.")
        if not body:
            return error(21602, "Message body is required.")
        with self.lock:
            self.created += 1
            sid = f"SM{self.created:032x}"
        return Answer(201, self.resource(sid, form))

    def resource(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": "Tue, 02 Jun 2026 15:00:00 +0000",
            "date_sent": None,
            "date_updated": "Tue, 02 Jun 2026 15:00:00 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(measure(form["Body"]).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }


def signed(url: str, params: dict[str, str], auth_token: str) -> tuple[str, dict[str, str]]:
    """A webhook body as Twilio posts it, and its X-Twilio-Signature header."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    return urlencode(params), {"X-Twilio-Signature": signature}


def incoming(
    sid: str,
    sender: str,
    body: str,
    to: str = "+48221234567",
    account_sid: str = "AC" + "0" * 32,
    **extra: str,
) -> dict[str, str]:
    """The fields of Twilio's incoming-message webhook."""
    return {
        "ToCountry": "PL",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status(
    sid: str, message_status: str, error_code: str = "", account_sid: str = "AC" + "0" * 32
) -> dict[str, str]:
    """The fields of a status callback."""
    fields = {
        "SmsSid": sid,
        "SmsStatus": message_status,
        "MessageStatus": message_status,
        "To": "+48501234567",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": "+48221234567",
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        fields["ErrorCode"] = error_code
    return fields
