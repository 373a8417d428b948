"""The one small interface every channel provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    touch_id: int
    idempotency_key: str
    channel: str
    address: str  # E.164 phone, e-mail address, chat id — as the channel needs
    text: str
    subject: str = ""
    language: str = "en"
    store_id: int = 0
    unsubscribe_url: str = ""
    quick_replies: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SendResult:
    """What happened to one message. ``transient`` failures are retried."""

    ok: bool
    provider_id: str = ""
    error: str = ""
    transient: bool = False
    retry_after: float | None = None  # seconds, when the provider said so

    @classmethod
    def sent(cls, provider_id: str = "") -> SendResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> SendResult:
        return cls(ok=False, error=error, transient=True, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        return cls(ok=False, error=error, transient=False)


class Channel(Protocol):
    """A way to deliver messages. ``send`` never raises for a delivery problem: each
    message gets its own result, in order.

    A channel may also define ``serves(store_id) -> bool`` (does this store have an
    account here; default yes) and ``accepts(contact, store_id) -> bool`` (can it
    deliver to this contact point for this store, e.g. a bot only to a chat that opened
    it; default yes).
    """

    name: str

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]: ...

    def close(self) -> None: ...


def serves(channel: Channel, store_id: int) -> bool:
    check = getattr(channel, "serves", None)
    return True if check is None else bool(check(store_id))


def accepts(channel: Channel, contact: Any, store_id: int) -> bool:
    check = getattr(channel, "accepts", None)
    return True if check is None else bool(check(contact, store_id))
