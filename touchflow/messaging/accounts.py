"""Finding a store's account for a channel, decrypted, and one live provider per account.

Workers and web processes keep one provider object per account, so connections to a
provider stay open across sends. Accounts are re-read after TOUCHFLOW_CACHE_SECONDS:
an account added, changed or disabled in the admin reaches every process in that time.
"""

from __future__ import annotations

import threading

from django.conf import settings

from touchflow.core.ttlcache import TTLCache
from touchflow.messaging import providers
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.providers.base import AccountConfig, Provider

_configs: TTLCache[str, dict[tuple[int, str], AccountConfig]] = TTLCache(1)
_live: dict[int, tuple[AccountConfig, Provider]] = {}
_lock = threading.Lock()


def config(account: ChannelAccount) -> AccountConfig:
    return AccountConfig(
        id=account.pk,
        store_id=account.store_id,
        provider=account.provider,
        channel=account.channel,
        handle=account.handle,
        base_url=account.base_url,
        credentials=account.credentials,
        webhook_key=account.webhook_key,
        webhook_url=f"{settings.TOUCHFLOW_PUBLIC_URL}{account.webhook_path()}",
        rate_limit=account.rate_limit,
    )


def _load() -> dict[tuple[int, str], AccountConfig]:
    return {
        (a.store_id, a.channel): config(a) for a in ChannelAccount.objects.filter(enabled=True)
    }


def enabled() -> dict[tuple[int, str], AccountConfig]:
    """Every enabled account by (store id, channel)."""
    return _configs.get("all", _load)


def by_webhook(provider_name: str, key: str) -> AccountConfig | None:
    """The enabled account whose webhook URL carries ``key``."""
    for cfg in enabled().values():
        if cfg.webhook_key == key and cfg.provider == provider_name:
            return cfg
    return None


def for_store(store_id: int, channel: str) -> AccountConfig | None:
    return enabled().get((store_id, channel))


def provider(cfg: AccountConfig) -> Provider:
    """The live provider of an account (rebuilt when the account changed)."""
    with _lock:
        hit = _live.get(cfg.id)
        if hit is not None and hit[0] == cfg:
            return hit[1]
        if hit is not None:
            hit[1].close()
        live = providers.build(cfg)
        _live[cfg.id] = (cfg, live)
        return live


def forget() -> None:
    """Drop cached accounts and close live providers (tests; after an admin change)."""
    with _lock:
        for _cfg, live in _live.values():
            live.close()
        _live.clear()
    _configs.clear()
