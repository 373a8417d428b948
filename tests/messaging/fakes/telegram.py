"""A local Telegram Bot API (https://core.telegram.org/bots/api).

``POST /bot<token>/<method>`` with a JSON body; every answer is
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …, "description": …}``
(plus ``parameters.retry_after`` on 429), with the HTTP status equal to the error
code. It knows which chats opened the bot (``chats``) and which blocked it
(``blocked``), and builds the Update objects Telegram posts to a webhook.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.messaging.fakes.base import Answer, FakeProvider, Request

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Touchflow", "username": "touchflow_bot"}
DATE = 1780401600  # 2026-06-02 12:00 UTC


def error(code: int, description: str, **parameters: Any) -> Answer:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Answer(code, body)


def chat_not_found() -> Answer:
    return error(400, "Bad Request: chat not found")


def blocked_by_user() -> Answer:
    return error(403, "Forbidden: bot was blocked by the user")


def too_many_requests(retry_after: int) -> Answer:
    return error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def server_error() -> Answer:
    return error(502, "Bad Gateway")


class FakeTelegram(FakeProvider):
    def __init__(self, token: str = "123456:ABC-test-token") -> None:
        super().__init__()
        self.token = token
        self.chats: set[int] = set()
        self.blocked: set[int] = set()
        self.webhook: dict[str, Any] = {}
        self._ids = itertools.count(101)
        self.routes = {("POST", "/bot"): self._method}

    # -- the API ------------------------------------------------------------------------

    def _method(self, request: Request) -> Answer:
        token, _sep, method = request.path.removeprefix("/bot").partition("/")
        if token != self.token:
            return error(401, "Unauthorized")
        try:
            params = request.json() if request.body else {}
        except ValueError:
            return error(400, "Bad Request: can't parse JSON object")
        if not isinstance(params, dict):
            return error(400, "Bad Request: parameters must be an object")
        handler = {
            "sendMessage": self._send_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setWebhook": self._set_webhook,
        }.get(method)
        if handler is None:
            return error(404, "Not Found")
        return handler(params)

    def _send_message(self, params: dict[str, Any]) -> Answer:
        chat_id = params.get("chat_id")
        try:
            chat = int(chat_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return chat_not_found()
        if chat not in self.chats:
            return chat_not_found()
        if chat in self.blocked:
            return blocked_by_user()
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            problem = _markup_problem(markup)
            if problem:
                return error(400, f"Bad Request: {problem}")
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": BOT,
            "chat": {"id": chat, "type": "private"},
            "date": DATE,
            "text": text,
        }
        if markup is not None:
            message["reply_markup"] = markup
        return Answer(200, {"ok": True, "result": message})

    def _answer_callback_query(self, params: dict[str, Any]) -> Answer:
        if not params.get("callback_query_id"):
            return error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return Answer(200, {"ok": True, "result": True})

    def _set_webhook(self, params: dict[str, Any]) -> Answer:
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = params
        return Answer(200, {"ok": True, "result": True, "description": "Webhook was set"})

    # -- what the tests read ----------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        """The sendMessage bodies received, in order (answered or not)."""
        return [r.json() for r in self.sent("/sendMessage")]

    def texts(self, chat: int) -> list[str]:
        return [m["text"] for m in self.messages() if str(m.get("chat_id")) == str(chat)]


def _markup_problem(markup: Any) -> str:
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return 'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
    for row in markup["inline_keyboard"]:
        if not isinstance(row, list):
            return 'field "inline_keyboard" must be an Array of Arrays'
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                return "can't parse inline keyboard button: Text buttons are unallowed"
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return "BUTTON_DATA_INVALID"
    return ""


# -- what Telegram posts to the webhook --------------------------------------------------


def user(chat: int, first_name: str = "Anna", last_name: str = "Nowak") -> dict[str, Any]:
    return {
        "id": chat,
        "is_bot": False,
        "first_name": first_name,
        "last_name": last_name,
        "language_code": "pl",
    }


def message_update(update_id: int, chat: int, text: str, date: int = DATE) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id * 10,
                "from": user(chat),
                "chat": {"id": chat, "first_name": "Anna", "last_name": "Nowak", "type": "private"},
                "date": date,
                "text": text,
            },
        }
    ).encode()


def callback_update(
    update_id: int, chat: int, data: str, query_id: str = "4382bfdwdsb323b2d9"
) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "callback_query": {
                "id": query_id,
                "from": user(chat),
                "chat_instance": "-4811632049470373",
                "message": {
                    "message_id": 55,
                    "from": BOT,
                    "date": DATE,
                    "text": "Hello",
                    "chat": {"id": chat, "type": "private"},
                },
                "data": data,
            },
        }
    ).encode()


def my_chat_member_update(update_id: int, chat: int, status: str) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "my_chat_member": {
                "chat": {"id": chat, "first_name": "Anna", "type": "private"},
                "from": user(chat),
                "date": DATE,
                "old_chat_member": {"user": BOT, "status": "member"},
                "new_chat_member": {"user": BOT, "status": status, "until_date": 0},
            },
        }
    ).encode()
