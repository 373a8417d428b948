"""The channels Touchflow sends on, and what each one needs: defined here once.

A channel is what a chain step lists (``channels: [telegram, sms]``), what
``TOUCHFLOW_CHANNELS`` configures, what a store's provider account serves and what a
touch went out on. Everything that differs between channels and is not a provider's
wire format is a field of ``ChannelTraits``: the contact point it delivers to, the mark
its bot puts on the contacts it learns, whether it writes only to chats the customer
opened, the reply window, how the counter's QR opt-in reaches it. Adding a channel is
one entry in ``ALL`` (and a provider module in ``messaging.providers``).

Pure data: this module imports no domain app, so every layer may read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Whether a bot may write to a contact point, from its value and network mark.
OpenedChat = Callable[[str, str], bool]
# How a provider reports an address: an E.164 phone number (with or without its "+"),
# an e-mail address, or a chat's id kept as it comes.
Address = Literal["phone", "email", "chat"]

# The network mark of a Viber user id learned from the bot's webhook, so that it never
# collides with a phone number typed at the counter.
VIBER_BOT = "bot"


@dataclass(frozen=True)
class ChannelTraits:
    name: str
    label: Promise  # in the reader's language
    contact: str  # the ContactPoint kind it delivers to
    address: Address
    # The ContactPoint network of the contacts this channel's webhooks learn.
    network: str = ""
    # None: any contact point of its kind is an address. Otherwise the channel's bot
    # writes only to chats that opened it, and this says which contact points are such.
    opened_chat: OpenedChat | None = None
    # A business may write free-form only this long after the customer's last message.
    reply_window: timedelta | None = None
    # The counter's QR code may open a chat with the store's bot on it (deep link).
    qr_optin: bool = False
    # An opt-in code may come typed as a message (no deep link carries it).
    typed_optin_code: bool = False
    # Quick-reply buttons show under a message (a check-in's answers); without them a
    # check-in links its one-tap rating page instead.
    buttons: bool = False
    # The longest text the provider takes in one message, in characters (None: no limit
    # that a message of a chain would meet; SMS is counted in segments instead).
    max_text: int | None = None

    def reaches(self, value: str, network: str) -> bool:
        """Whether the channel's own bot can write to this contact point."""
        return self.opened_chat is None or self.opened_chat(value, network)


def _telegram_chat(value: str, _network: str) -> bool:
    """A chat id (negative for a group), never a @username typed by staff."""
    return value.lstrip("-").isdigit()


def _viber_user(_value: str, network: str) -> bool:
    """A Viber user id learned from the webhook, never a phone number."""
    return network == VIBER_BOT


# In the order the product lists them (readiness reports, the QR code's preference).
ALL: tuple[ChannelTraits, ...] = (
    ChannelTraits(
        "telegram", _("Telegram"), contact="telegram", address="chat",
        opened_chat=_telegram_chat, qr_optin=True, buttons=True, max_text=4096,
    ),
    ChannelTraits(
        "viber", _("Viber"), contact="viber", address="chat", network=VIBER_BOT,
        opened_chat=_viber_user, qr_optin=True, typed_optin_code=True, buttons=True,
        max_text=7000,
    ),
    ChannelTraits(
        "whatsapp", _("WhatsApp"), contact="whatsapp", address="phone",
        reply_window=timedelta(hours=24), qr_optin=True, typed_optin_code=True,
        buttons=True, max_text=4096,
    ),
    ChannelTraits("sms", _("SMS"), contact="phone", address="phone", typed_optin_code=True),
    ChannelTraits("email", _("E-mail"), contact="email", address="email"),
)

_BY_NAME = {c.name: c for c in ALL}
NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get(name: str) -> ChannelTraits:
    """The channel called ``name``; KeyError for a name that is none."""
    return _BY_NAME[name]


def contact_kind(name: str) -> str:
    """The ContactPoint kind ``name`` delivers to ("sms" → "phone")."""
    return _BY_NAME[name].contact


def network(name: str) -> str:
    return _BY_NAME[name].network


def label(name: str) -> str:
    """The channel's name in the active language; an unknown code as it is."""
    found = _BY_NAME.get(name)
    return str(found.label) if found else name


def position(name: str) -> int:
    """Where ``name`` is listed (unknown names last): a sort key."""
    return NAMES.index(name) if name in _BY_NAME else len(NAMES)


def qr_optin() -> tuple[str, ...]:
    """The messengers a store's QR code can open, in order of preference."""
    return tuple(c.name for c in ALL if c.qr_optin)


def spoken(names: tuple[str, ...] = NAMES) -> str:
    """``telegram, viber, whatsapp, sms or email``: for help texts."""
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else "".join(names)
