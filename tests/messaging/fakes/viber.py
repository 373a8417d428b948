"""A local Viber REST bot API (https://developers.viber.com/docs/api/rest-bot-api/).

``POST /pa/send_message`` and ``/pa/set_webhook`` with ``X-Viber-Auth-Token``. Viber
answers HTTP 200 whatever happened; the body's ``status`` tells: 0 ok (with a
``message_token``), 2 invalidAuthToken, 3 badData, 4 missingData,
5 receiverNotRegistered, 6 notSubscribed, 12 tooManyRequests. It knows who subscribed
to the bot (``subscribers``) and builds the callbacks Viber posts to a webhook, signed
as Viber signs them (hex HMAC-SHA256 of the body keyed with the auth token).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

from tests.messaging.fakes.base import Answer, FakeProvider, Request

STAMP = 1780401600000  # 2026-06-02 12:00 UTC, in milliseconds as Viber sends it
BUTTON_ACTIONS = {"reply", "open-url", "location-picker", "share-phone", "none"}


def status(code: int, message: str) -> Answer:
    return Answer(200, {"status": code, "status_message": message, "chat_hostname": "SN-CHAT-05_"})


def not_registered() -> Answer:
    return status(5, "receiverNotRegistered")


def not_subscribed() -> Answer:
    return status(6, "notSubscribed")


def too_many_requests() -> Answer:
    return status(12, "tooManyRequests")


class FakeViber(FakeProvider):
    def __init__(
        self, auth_token: str = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
    ) -> None:
        super().__init__()
        self.auth_token = auth_token
        self.subscribers: set[str] = set()
        self.unregistered: set[str] = set()
        self.webhook: dict[str, Any] = {}
        self._tokens = itertools.count(5741311803571721087)
        self.routes = {
            ("POST", "/pa/send_message"): self._send_message,
            ("POST", "/pa/set_webhook"): self._set_webhook,
        }

    def _body(self, request: Request) -> dict[str, Any] | Answer:
        if request.headers.get("x-viber-auth-token") != self.auth_token:
            return status(2, "invalidAuthToken")
        try:
            body = request.json()
        except ValueError:
            return status(3, "badData")
        if not isinstance(body, dict):
            return status(3, "badData")
        return body

    def _send_message(self, request: Request) -> Answer:
        body = self._body(request)
        if isinstance(body, Answer):
            return body
        receiver, sender = body.get("receiver"), body.get("sender")
        if not receiver or body.get("type") != "text" or not isinstance(sender, dict):
            return status(4, "missingData")
        if not body.get("text") or not sender.get("name"):
            return status(4, "missingData")
        if len(sender["name"]) > 28 or len(body["text"]) > 7000:
            return status(3, "badData")
        if "keyboard" in body and not _keyboard_ok(body["keyboard"]):
            return status(3, "badData")
        if receiver in self.unregistered:
            return not_registered()
        if receiver not in self.subscribers:
            return not_subscribed()
        return Answer(
            200,
            {
                "status": 0,
                "status_message": "ok",
                "message_token": next(self._tokens),
                "chat_hostname": "SN-CHAT-05_",
                "billing_status": 1,
            },
        )

    def _set_webhook(self, request: Request) -> Answer:
        body = self._body(request)
        if isinstance(body, Answer):
            return body
        if not isinstance(body.get("url"), str):
            return status(1, "invalidUrl")
        self.webhook = body
        types = body.get("event_types") or [
            "delivered",
            "seen",
            "failed",
            "subscribed",
            "unsubscribed",
            "conversation_started",
        ]
        return Answer(200, {"status": 0, "status_message": "ok", "event_types": types})

    # -- what the tests read ----------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.sent("/pa/send_message")]

    # -- what Viber posts to the webhook ----------------------------------------------------

    def sign(self, body: bytes) -> str:
        return hmac.new(self.auth_token.encode(), body, hashlib.sha256).hexdigest()


def viber_user(user_id: str, name: str = "Anna Nowak") -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "avatar": "http://avatar.example.com",
        "country": "PL",
        "language": "pl",
        "api_version": 10,
    }


def callback(event: str, message_token: int = 4912661846655238145, **fields: Any) -> bytes:
    """A callback as Viber posts it: ``event``, ``timestamp``, ``chat_hostname``,
    ``message_token`` and the event's own fields."""
    return json.dumps(
        {
            "event": event,
            "timestamp": STAMP,
            "chat_hostname": "SN-376_",
            "message_token": message_token,
            **fields,
        }
    ).encode()


def conversation_started(
    user_id: str, context: str = "", token: int = 4912661846655238145, subscribed: bool = False
) -> bytes:
    fields: dict[str, Any] = {"type": "open", "user": viber_user(user_id), "subscribed": subscribed}
    if context:
        fields["context"] = context
    return callback("conversation_started", token, **fields)


def message(user_id: str, text: str, token: int = 4912661846655238146) -> bytes:
    return callback(
        "message",
        token,
        sender=viber_user(user_id),
        message={"type": "text", "text": text, "tracking_data": ""},
    )


def receipt(event: str, message_token: int | str, user_id: str, desc: str = "") -> bytes:
    fields: dict[str, Any] = {"user_id": user_id}
    if desc:
        fields["desc"] = desc
    return callback(event, int(message_token), **fields)


def _keyboard_ok(keyboard: Any) -> bool:
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        return False
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not buttons:
        return False
    return all(
        isinstance(b, dict)
        and b.get("ActionType", "reply") in BUTTON_ACTIONS
        and isinstance(b.get("ActionBody"), str)
        and b["ActionBody"]
        for b in buttons
    )
