"""A local Mailgun: ``POST /v3/<domain>/messages`` with HTTP basic auth ``api:<key>``,
form-encoded or multipart fields (``from``, ``to``, ``subject``, ``text``,
``h:<Header>``, ``v:<variable>``), answering as Mailgun does:

- 200 ``{"id": "<…@domain>", "message": "Queued. Thank you."}``;
- 400 ``{"message": "'to' parameter is not a valid address. please check documentation"}``;
- 401 ``Forbidden`` (plain text) for a wrong API key;
- 404 ``{"message": "Domain not found: <domain>"}`` for a domain it does not know.

It also signs event webhooks the way Mailgun does (``event``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import parse_qs

from tests.messaging.fakes.base import Answer, FakeProvider, Request

INVALID_TO = "'to' parameter is not a valid address. please check documentation"


def fields(request: Request) -> dict[str, list[str]]:
    """The request's form fields, each with all its values (``to`` may repeat)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        parsed = cast(EmailMessage, message_from_bytes(head + request.body, policy=policy.HTTP))
        found: dict[str, list[str]] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            text = payload.decode() if isinstance(payload, bytes) else ""
            found.setdefault(str(name), []).append(text)
        return found
    return parse_qs(request.body.decode(), keep_blank_values=True)


class FakeMailgun(FakeProvider):
    def __init__(
        self, api_key: str = "key-test", domains: tuple[str, ...] = ("mg.shop.test",)
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.domains = set(domains)
        self._ids = itertools.count(1)
        self.routes[("POST", "/v3/")] = self._messages

    def _messages(self, request: Request) -> Answer:
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode()
        if auth != expected:
            return Answer(401, "Forbidden")
        domain, _sep, rest = request.path.removeprefix("/v3/").partition("/")
        if rest != "messages":
            return Answer(200, {"message": "Mailgun Magnificent API"})
        if domain not in self.domains:
            return Answer(404, {"message": f"Domain not found: {domain}"})
        form = fields(request)
        if not form.get("to") or any("@" not in to for to in form["to"]):
            return Answer(400, {"message": INVALID_TO})
        return Answer(
            200,
            {
                "id": f"<20260602150000.{next(self._ids)}.1@{domain}>",
                "message": "Queued. Thank you.",
            },
        )

    def messages(self) -> list[dict[str, list[str]]]:
        """The form fields of every message accepted or not, in order."""
        return [fields(r) for r in self.sent("/messages")]


def signed_event(
    signing_key: str, event_data: dict[str, Any], timestamp: int, token: str = "a" * 50
) -> str:
    """A webhook body as Mailgun posts it: the event with its signature block."""
    digest = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return json.dumps(
        {
            "signature": {
                "timestamp": str(timestamp),
                "token": token,
                "signature": digest.hexdigest(),
            },
            "event-data": event_data,
        }
    )


def event(
    kind: str, event_id: str, recipient: str, message_id: str, **extra: Any
) -> dict[str, Any]:
    """``event-data`` in the documented shape (a subset of its fields)."""
    data: dict[str, Any] = {
        "event": kind,
        "id": event_id,
        "timestamp": 1780412400.0,
        "recipient": recipient,
        "message": {"headers": {"message-id": message_id, "to": recipient}},
        "user-variables": {},
        "flags": {"is-test-mode": False},
    }
    data.update(extra)
    return data
