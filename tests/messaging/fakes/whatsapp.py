"""A local WhatsApp Business Cloud API: ``POST /{version}/{phone_number_id}/messages``
answered in the Graph API's shapes, and builders for the webhooks Meta sends.

Success: ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid…"}]}``. Errors: ``{"error": {"message": "(#CODE) Title",
"type": "OAuthException", "code": CODE, "error_data": {"messaging_product":
"whatsapp", "details": …}, "fbtrace_id": …}}`` with the HTTP status Meta documents
for the code.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Sequence
from typing import Any

from tests.messaging.fakes.base import Answer, FakeProvider, Request

VERSION = "v21.0"

# code → (HTTP status, title) as Meta's error-code reference lists them.
ERRORS: dict[int, tuple[int, str]] = {
    2: (503, "API Service"),
    100: (400, "Invalid parameter"),
    190: (401, "Access token has expired"),
    80007: (400, "Rate limit issues"),
    130429: (429, "Rate limit hit"),
    131000: (500, "Something went wrong"),
    131008: (400, "Required parameter is missing"),
    131009: (400, "Parameter value is not valid"),
    131026: (400, "Message undeliverable"),
    131030: (400, "Recipient phone number not in allowed list"),
    131047: (400, "Re-engagement message"),
    131050: (400, "Unable to deliver the message"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    132000: (400, "Number of parameters does not match the expected number of params"),
    132001: (404, "Template name does not exist in the translation"),
    132018: (400, "There's an issue with the parameters in your template"),
}


def error(code: int, details: str = "", headers: dict[str, str] | None = None) -> Answer:
    """The Graph API's answer for error ``code``."""
    status, title = ERRORS[code]
    body: dict[str, Any] = {
        "message": f"(#{code}) {title}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or title},
        "fbtrace_id": "AbCdEf123",
    }
    return Answer(status, {"error": body}, headers or {})


class FakeWhatsApp(FakeProvider):
    """Approved templates have a name and a count of body parameters. Numbers in
    ``closed`` get 131047 for free-form messages (their window closed)."""

    def __init__(
        self,
        token: str = "EAAG-test",
        phone_number_id: str = "1065403522",
        templates: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.templates = templates if templates is not None else {"touchflow_message": 1}
        self.closed: set[str] = set()
        self._ids = itertools.count(1)
        self.routes[("POST", f"/{VERSION}/")] = self._messages

    def _messages(self, request: Request) -> Answer:
        if request.path != f"/{VERSION}/{self.phone_number_id}/messages":
            return error(100, f"Unsupported post request: {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Answer(
                401,
                {
                    "error": {
                        "message": "Invalid OAuth access token - Cannot parse access token",
                        "type": "OAuthException",
                        "code": 190,
                        "fbtrace_id": "AbCdEf123",
                    }
                },
            )
        try:
            body = request.json()
        except ValueError:
            return error(100, "The request body is not JSON")
        problem = self._check(body)
        if problem is not None:
            return problem
        to = body["to"]
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.HBgL{next(self._ids):06d}"}],
        }
        if body["type"] == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return Answer(200, answer)

    def _check(self, body: Any) -> Answer | None:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return error(100, "messaging_product must be whatsapp")
        to, kind = body.get("to"), body.get("type")
        if not isinstance(to, str) or not to.isdigit():
            return error(100, "to must be a phone number")
        if kind == "text":
            text = body.get("text") or {}
            if not isinstance(text.get("body"), str) or not text["body"]:
                return error(131008, "text['body'] is required")
            return error(131047) if to in self.closed else None
        if kind == "interactive":
            return self._check_buttons(body.get("interactive") or {}) or (
                error(131047) if to in self.closed else None
            )
        if kind == "template":
            return self._check_template(body.get("template") or {})
        return error(100, f"Unsupported message type {kind!r}")

    def _check_buttons(self, interactive: dict[str, Any]) -> Answer | None:
        buttons = (interactive.get("action") or {}).get("buttons") or []
        if interactive.get("type") != "button" or not 1 <= len(buttons) <= 3:
            return error(131009, "interactive button messages take 1 to 3 buttons")
        if len(interactive.get("body", {}).get("text", "")) > 1024:
            return error(131009, "body text is longer than 1024 characters")
        ids = [b["reply"]["id"] for b in buttons]
        if len(set(ids)) != len(ids) or any(len(b["reply"]["title"]) > 20 for b in buttons):
            return error(131009, "button ids must be unique and titles at most 20 characters")
        return None

    def _check_template(self, template: dict[str, Any]) -> Answer | None:
        name = template.get("name")
        if name not in self.templates or not (template.get("language") or {}).get("code"):
            return error(132001, f"template name ({name}) does not exist")
        params = [
            p
            for c in template.get("components") or []
            if c.get("type") == "body"
            for p in c.get("parameters") or []
        ]
        if len(params) != self.templates[name]:
            return error(132000)
        for param in params:
            text = param.get("text", "")
            if "\n" in text or "\t" in text or "     " in text:
                return error(
                    132018,
                    "Param text cannot have new-line/tab characters "
                    "or more than 4 consecutive spaces",
                )
        return None

    def bodies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.sent("/messages")]


# -- webhooks -----------------------------------------------------------------------


def signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def notification(value: dict[str, Any], phone_number_id: str = "1065403522") -> bytes:
    """A ``messages`` webhook carrying ``value`` (messages, contacts, statuses)."""
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "48221002030",
                                    "phone_number_id": phone_number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def text_message(
    wa_id: str, text: str, message_id: str, timestamp: int, name: str = "Anna Nowak"
) -> dict[str, Any]:
    return {
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": message_id,
                "timestamp": str(timestamp),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }


def button_reply(
    wa_id: str, reply_id: str, title: str, message_id: str, timestamp: int
) -> dict[str, Any]:
    return {
        "contacts": [{"profile": {"name": "Anna Nowak"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": message_id,
                "timestamp": str(timestamp),
                "type": "interactive",
                "context": {"from": "48221002030", "id": "wamid.HBgL000001"},
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": reply_id, "title": title},
                },
            }
        ],
    }


def status(
    message_id: str, state: str, wa_id: str, timestamp: int, errors: Sequence[tuple[int, str]] = ()
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(timestamp),
        "recipient_id": wa_id,
    }
    if errors:
        item["errors"] = [
            {"code": code, "title": title, "message": title, "error_data": {"details": title}}
            for code, title in errors
        ]
    return {"statuses": [item]}
