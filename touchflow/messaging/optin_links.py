"""The deep link behind the counter's QR code, per messenger.

Telegram: ``https://t.me/<bot>?start=<token>`` (the bot receives ``/start <token>``).
Viber: ``viber://pa?chatURI=<uri>&context=<token>`` (``conversation_started`` carries it).
WhatsApp: ``https://wa.me/<number>?text=START%20<token>`` (the customer sends the code).
"""

from __future__ import annotations

from urllib.parse import quote

from touchflow.core import channels
from touchflow.customers.models import OptInToken
from touchflow.messaging import accounts
from touchflow.stores.models import Store


def _handle(store: Store, channel: str) -> str:
    cfg = accounts.for_store(store.pk, channel)
    if cfg is not None and cfg.handle:
        return cfg.handle.removeprefix("@")
    return store.telegram_bot if channel == "telegram" else ""


def qr_channel(store: Store) -> str | None:
    """The messenger the store's QR code opens: the first one it has a bot for."""
    return next((c for c in channels.qr_optin() if _handle(store, c)), None)


def link(token: OptInToken) -> str:
    handle = _handle(token.store, token.channel)
    if token.channel == "viber":
        return f"viber://pa?chatURI={quote(handle)}&context={quote(token.token)}"
    if token.channel == "whatsapp":
        digits = "".join(ch for ch in handle if ch.isdigit())
        return f"https://wa.me/{digits}?text={quote('START ' + token.token)}"
    return f"https://t.me/{handle}?start={token.token}"
