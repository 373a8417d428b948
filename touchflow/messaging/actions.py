"""Changes to a store's provider accounts (``check_*`` validates, ``do_*`` writes)."""

from __future__ import annotations

import math

from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount


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
