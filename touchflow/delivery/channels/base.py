"""The one small interface every channel provider implements."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
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


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class SendResult:
    """What happened to one message. ``transient`` failures are retried."""

    ok: bool
    provider_id: str = ""
    error: str = ""
    transient: bool = False
    retry_after: float | None = None  # seconds, when the provider said so
    # The request may have reached the provider though no answer came back (a timeout
    # or a dropped connection after it was written). A refused connection is not.
    ambiguous: bool = False

    @classmethod
    def sent(cls, provider_id: str = "") -> SendResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> SendResult:
        return cls(ok=False, error=error, transient=True, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        return cls(ok=False, error=error, transient=False)

    @classmethod
    def unknown(cls, error: str) -> SendResult:
        """No answer to a request that may have arrived: sent again only with the same
        idempotency key, and only to a provider that honours it."""
        return cls(ok=False, error=error, transient=True, ambiguous=True)


@dataclass(frozen=True)
class Route:
    """How one message leaves: found in the worker's main thread (which may read the
    database), while ``send`` runs on a sending thread and must not.

    ``key`` names the provider account (or deployment-wide channel) that rate limits
    and in-flight bounds count against; ``rate`` is its limit in messages per second
    (None: none); ``honours_keys`` says whether the provider drops a repeat of an
    idempotency key, so an ambiguous send may be repeated with the same key.
    """

    key: str
    send: Callable[[OutgoingMessage], SendResult]
    rate: float | None = None
    honours_keys: bool = False
    # Sends that return at once and change nothing outside the process (the null
    # channel) run on the worker's own thread.
    inline: bool = False
    provider: str = ""  # what the metrics call it: telegram, smsapi, webhook, smtp…


class Channel(Protocol):
    """A way to deliver messages. ``send`` never raises for a delivery problem: each
    message gets its own result, in order.

    A channel may also define ``serves(store_id) -> bool`` (does this store have an
    account here; default yes) and ``accepts(contact, store_id) -> bool`` (can it
    deliver to this contact point for this store, e.g. a bot only to a chat that opened
    it; default yes).

    Its traits, read by ``route``: ``honours_idempotency_key`` (does whoever receives
    the message drop a second one with the same key; default no, the safe guess) and
    ``rate`` (messages a second across every worker; None, the default: no limit). A
    channel routed per store (the stores' own accounts) answers ``route`` itself.
    """

    name: str

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]: ...

    def close(self) -> None: ...


def route(channel: Channel, message: OutgoingMessage) -> Route:
    """The route of ``message`` on ``channel``: the channel's own ``route`` when it has
    one (a channel that picks a store's account), else the channel as one account."""
    own = getattr(channel, "route", None)
    if own is not None:
        found: Route = own(message)
        return found
    try:
        return _ONE_ACCOUNT[channel]
    except (KeyError, TypeError):  # not routed yet; or unhashable, routed every time
        pass
    found = Route(
        key=f"channel:{channel.name}",
        send=lambda m: channel.send([m])[0],
        rate=getattr(channel, "rate", None),
        honours_keys=bool(getattr(channel, "honours_idempotency_key", False)),
        inline=bool(getattr(channel, "inline", False)),
        provider=type(channel).__name__.removesuffix("Channel").lower(),
    )
    with contextlib.suppress(TypeError):
        _ONE_ACCOUNT[channel] = found
    return found


# The route of each channel that is one account whatever the message, made the first
# time it is asked for (its traits are set when it is configured, before any send):
# made per message it cost a frozen dataclass, a closure and four attribute reads.
_ONE_ACCOUNT: weakref.WeakKeyDictionary[Any, Route] = weakref.WeakKeyDictionary()


def serves(channel: Channel, store_id: int) -> bool:
    check = getattr(channel, "serves", None)
    return True if check is None else bool(check(store_id))


def accepts(channel: Channel, contact: Any, store_id: int) -> bool:
    check = getattr(channel, "accepts", None)
    return True if check is None else bool(check(contact, store_id))

