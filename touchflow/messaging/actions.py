"""Changes to a store's provider accounts (``check_*`` validates, ``do_*`` writes)."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction

from touchflow.core.errors import InvalidInput
from touchflow.messaging import accounts
from touchflow.messaging.crypto import reseal
from touchflow.messaging.models import ChannelAccount, Provider
from touchflow.messaging.providers import provider_class
from touchflow.stores.models import Store


def check_rate_limit(text: str | None) -> float | None:
    """A rate limit as typed: messages a second, or empty/"default" for the provider's
    documented rate (None). Raises ValueError naming the field."""
    if text is None or text.strip().lower() in ("", "default"):
        return None
    try:
        rate = float(text)
    except ValueError as exc:
        raise ValueError(f"rate_limit: {text!r} is not a number of messages a second") from exc
    if not 0 < rate < math.inf:
        raise ValueError("rate_limit: must be more than zero messages a second")
    return rate


def do_set_rate_limit(account: ChannelAccount, rate: float | None) -> None:
    """Every worker picks the new rate up when it next re-reads the accounts
    (TOUCHFLOW_CACHE_SECONDS); this process at once."""
    account.rate_limit = rate
    account.save(update_fields=["rate_limit"])
    accounts.forget()


def check_provider(name: str) -> Provider:
    """The provider named, or InvalidInput naming the field and the choices."""
    if name not in Provider.values:
        raise InvalidInput("provider", f"must be one of {', '.join(Provider.values)}")
    return Provider(name)


def do_connect_account(
    store: Store, provider: Provider, credentials: dict[str, Any], *, handle: str = "",
    base_url: str = "", rate: float | None = None,
) -> ChannelAccount:
    """Connect ``store`` to ``provider``: the new account replaces the store's enabled one
    for that channel (kept, disabled: its webhook may still deliver late events)."""
    account = ChannelAccount(store=store, provider=provider, handle=handle, base_url=base_url,
                             rate_limit=rate)
    account.credentials = credentials
    with transaction.atomic():
        ChannelAccount.objects.filter(
            store=store, channel=provider_class(provider).channel, enabled=True
        ).update(enabled=False)
        account.save()
    accounts.forget()
    return account


def do_reseal_credentials() -> int:
    """Seal every account's credentials again under the newest key (the first of
    TOUCHFLOW_CREDENTIALS_KEY); returns how many accounts there are."""
    count = 0
    with transaction.atomic():
        for account in ChannelAccount.objects.select_for_update():
            account.sealed_credentials = reseal(account.sealed_credentials)
            account.save(update_fields=["sealed_credentials"])
            count += 1
    accounts.forget()
    return count
