"""Telegram Bot API (https://core.telegram.org/bots/api).

Out: ``sendMessage`` to a chat id, with an inline keyboard for quick replies and the
unsubscribe button. In: the webhook (``setWebhook`` with ``secret_token``; Telegram
sends it back in ``X-Telegram-Bot-Api-Secret-Token``): messages, ``/start <token>``
from the counter's QR deep link, button presses (``callback_query``) and the user
blocking the bot (``my_chat_member``). Telegram has no delivery receipts.

Credentials: ``{"token": "<bot token>", "secret_token": "<webhook secret>"}``.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.http import HttpRequest
from pydantic import Field

from touchflow.core import stop_texts
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import transient
from touchflow.messaging.providers.base import (
    QUICK_STOP,
    Inbound,
    MalformedWebhook,
    Provider,
    Shape,
    Start,
    Text,
    Unauthenticated,
    Unsubscribed,
    WebhookRefused,
    parse_shape,
)

# -- the Bot API's shapes that the webhook reads (https://core.telegram.org/bots/api) --
# The update is parsed into these at the edge: a field we rely on that is missing or of
# the wrong type refuses the update (MalformedWebhook) instead of failing deeper in.


class User(Shape):
    id: int
    first_name: str = ""
    last_name: str = ""

    @property
    def name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name]))


class Chat(Shape):
    id: int


class Message(Shape):
    chat: Chat
    date: int
    sender: User | None = Field(None, alias="from")
    text: str | None = None  # absent for stickers, photos…


class MessageRef(Shape):
    """A callback's message: possibly inaccessible (then without most fields)."""

    chat: Chat | None = None


class CallbackQuery(Shape):
    id: str
    sender: User = Field(alias="from")
    message: MessageRef | None = None
    data: str | None = None  # absent for a game's button


class ChatMember(Shape):
    status: str


class ChatMemberUpdated(Shape):
    chat: Chat
    new_chat_member: ChatMember


class Update(Shape):
    update_id: int
    message: Message | None = None
    callback_query: CallbackQuery | None = None
    my_chat_member: ChatMemberUpdated | None = None


class TelegramProvider(Provider):
    name = "telegram"
    channel = "telegram"
    default_base_url = "https://api.telegram.org"
    required_credentials = ("token",)
    # The Bot FAQ ("My bot is hitting limits", https://core.telegram.org/bots/faq): bulk
    # notifications to many users, "the API will not allow more than 30 messages per
    # second or so" per bot. sendMessage takes no idempotency key: a retry after a lost
    # answer is a second message.
    default_rate: ClassVar[float] = 30.0
    honours_idempotency_key: ClassVar[bool] = False

    def _method_url(self, method: str) -> str:
        return f"{self.base_url}/bot{self.account.credentials.get('token', '')}/{method}"

    def call(self, method: str, payload: dict[str, Any]) -> SendResult:
        """One Bot API call mapped to a result: ``{"ok": true, "result": …}`` is sent;
        429 and 5xx retry (``parameters.retry_after`` honoured); other errors are final
        (400 chat not found, 403 bot was blocked by the user)."""
        try:
            response = self.request("POST", self._method_url(method), json=payload)
        except httpx.HTTPError as exc:
            return self.network_error(exc)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok"):
            result = body.get("result")
            message_id = result.get("message_id", "") if isinstance(result, dict) else ""
            return SendResult.sent(str(message_id))
        code = body.get("error_code", response.status_code)
        error = f"Telegram {code}: {body.get('description', response.text[:200])}"
        if code == 429 or transient(response.status_code):
            retry_after = (body.get("parameters") or {}).get("retry_after")
            return SendResult.retry(
                error, float(retry_after) if retry_after else self.retry_after(response)
            )
        return SendResult.failed(error)

    def _payload(
        self, chat_id: str, text: str, buttons: Sequence[str], stop_label: str
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text[:4096]}
        rows = [[{"text": b[:64], "callback_data": _bytes64(b)}] for b in buttons]
        if stop_label:
            rows.append([{"text": stop_label, "callback_data": QUICK_STOP}])
        if rows:
            payload["reply_markup"] = {"inline_keyboard": rows}
        return payload

    def send_one(self, message: OutgoingMessage) -> SendResult:
        label = stop_texts.stop_label(message.language)
        return self.call(
            "sendMessage",
            self._payload(message.address, message.text, message.quick_replies, label),
        )

    def send_text(
        self,
        address: str,
        text: str,
        *,
        quick_replies: Sequence[str] = (),
        unsubscribe_button: bool = False,
        language: str = "en",
    ) -> SendResult:
        label = stop_texts.stop_label(language) if unsubscribe_button else ""
        return self.call("sendMessage", self._payload(address, text, quick_replies, label))

    def set_webhook(self) -> SendResult:
        """Point Telegram at this account's webhook, with its secret token."""
        return self.call(
            "setWebhook",
            {
                "url": self.account.webhook_url,
                "secret_token": self.account.credentials.get("secret_token", ""),
                "allowed_updates": ["message", "callback_query", "my_chat_member"],
            },
        )

    # -- webhook ------------------------------------------------------------------------

    def parse_webhook(self, request: HttpRequest) -> list[Inbound]:
        expected = str(self.account.credentials.get("secret_token", ""))
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if given is None:
            raise Unauthenticated("X-Telegram-Bot-Api-Secret-Token is missing")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRefused("X-Telegram-Bot-Api-Secret-Token does not match")
        update = parse_shape(Update, self.json_body(request), "an Update this bot reads")
        try:
            return self._items(str(update.update_id), update)
        except (ValueError, OverflowError, OSError) as exc:
            raise MalformedWebhook(f"unexpected Update values: {exc!r}") from exc

    def _items(self, event_id: str, update: Update) -> list[Inbound]:
        if update.message is not None:
            message = update.message
            chat = str(message.chat.id)
            name = message.sender.name if message.sender else ""
            if message.text is None:
                return []  # stickers, photos: nothing we act on
            command, *argument = message.text.split(maxsplit=1) or [""]
            if command == "/start" or command.startswith("/start@"):
                return [Start(event_id, chat, "".join(argument).strip(), name)]
            at = datetime.fromtimestamp(message.date, UTC)
            return [Text(event_id, chat, message.text, name, at)]
        if update.callback_query is not None:
            query = update.callback_query
            origin = query.message.chat if query.message and query.message.chat else None
            chat = str(origin.id if origin else query.sender.id)
            self._answer_callback(query.id)
            if not query.data:
                return []  # a game's button: no data to act on
            return [Text(event_id, chat, query.data, query.sender.name)]
        if update.my_chat_member is not None:
            member = update.my_chat_member
            if member.new_chat_member.status in ("kicked", "left"):
                return [Unsubscribed(event_id, str(member.chat.id))]
            return []
        return []

    def _answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner; a failure here changes nothing we keep."""
        self.call("answerCallbackQuery", {"callback_query_id": query_id})


def _bytes64(data: str) -> str:
    """``callback_data`` is limited to 64 *bytes*: a Cyrillic label of 40 letters is
    80 and Telegram would refuse the whole message."""
    return data.encode()[:64].decode(errors="ignore")
