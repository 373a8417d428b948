"""SMSAPI.pl's ``sms.do`` as documented, and the callbacks SMSAPI makes.

``POST /sms.do`` with a Bearer token and form fields; ``{"count", "list": [...]}`` on
success, ``{"error": <code>, "message": ...}`` on failure (HTTP 200, as the official
Python client's fixtures show). With ``check_idx=1`` a second message with an idx
already used is refused with error 53.
"""

from __future__ import annotations

import re
from typing import Any

from tests.messaging.fakes.base import Answer, FakeProvider, Request
from touchflow.messaging.segments import measure

NUMBER = re.compile(r"^\d{9,15}$")


def error(code: int, message: str, status: int = 200, **extra: Any) -> Answer:
    return Answer(status, {"error": code, "message": message, **extra})


NO_NUMBERS = error(
    13,
    "No correct phone numbers",
    invalid_numbers=[
        {"number": "4800", "submitted_number": "4800", "message": "Invalid phone number"}
    ],
)
BLACKLISTED = error(57, "Recipient's number is on blacklist")
BAD_TOKEN = error(101, "Authorization failed", status=401)
INTERNAL = error(201, "System internal error")
NO_POINTS = error(103, "Insufficient credits on account")


class FakeSmsapi(FakeProvider):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.used_idx: set[str] = set()
        self.blacklist: set[str] = set()
        self.routes = {("POST", "/sms.do"): self.send}
        self.sent_count = 0

    def send(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return BAD_TOKEN
        form = request.form()
        to, idx = form.get("to", ""), form.get("idx", "")
        if not form.get("message"):
            return error(11, "Message too long or there is no message")
        if not NUMBER.match(to):
            return NO_NUMBERS
        if to in self.blacklist:
            return BLACKLISTED
        with self.lock:
            if idx and form.get("check_idx") == "1" and idx in self.used_idx:
                return error(
                    53,
                    "Not unique idx parameter, message with the same idx has "
                    "been already sent and &check_idx=1.",
                )
            self.used_idx.add(idx)
            self.sent_count += 1
            msg_id = f"6{self.sent_count:023d}"
        entry = {
            "id": msg_id,
            "points": 0.16 * measure(form["message"]).segments,
            "number": to,
            "date_sent": 1780412400,
            "submitted_number": to,
            "status": "QUEUE",
        }
        if idx:
            entry["idx"] = idx
        return Answer(200, {"count": 1, "list": [entry]})


def report(msg_id: str, status: str, idx: str = "", **extra: str) -> dict[str, str]:
    """The parameters of a delivery report callback."""
    fields = {
        "MsgId": msg_id,
        "status": status,
        "donedate": "1780412460",
        "username": "shop@example.pl",
        "points": "0.16",
        "to": "48501234567",
        "mcc": "260",
        "mnc": "2",
        "from": "Sklep",
        **extra,
    }
    if idx:
        fields["idx"] = idx
    return fields


def mo(msg_id: str, sender: str, text: str, to: str = "48221234567") -> dict[str, str]:
    """The parameters of a received SMS callback."""
    return {
        "sms_to": to,
        "sms_from": sender,
        "sms_text": text,
        "sms_date": "1780412500",
        "username": "shop@example.pl",
        "MsgId": msg_id,
    }
