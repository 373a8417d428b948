"""Messages out through a store's own provider account.

``AccountChannel`` is the engine's channel for one channel name (telegram, viber,
whatsapp, sms, email) routed per store: a touch of store S goes through S's account
for that channel. A store without an account uses the deployment-wide channel of that
name from ``TOUCHFLOW_CHANNELS`` when there is one (e.g. one SMTP server for every
store); with neither, the store cannot use the channel and steps fall back past it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from touchflow.core import channels
from touchflow.delivery.channels.base import Channel, OutgoingMessage, Route, SendResult
from touchflow.delivery.channels.base import route as channel_route
from touchflow.delivery.channels.registry import configured
from touchflow.delivery.policies import Contact
from touchflow.messaging import accounts, providers


class AccountChannel:
    def __init__(self, name: str, default: Channel | None = None) -> None:
        self.name = name
        self.traits = channels.get(name)
        self.default = default

    def serves(self, store_id: int) -> bool:
        return self.default is not None or accounts.for_store(store_id, self.name) is not None

    def accepts(self, contact: Contact, store_id: int) -> bool:
        # Only a store's own bot needs a chat that opened it (core.channels); the
        # deployment-wide channel (a webhook to another system, the outbox) takes any
        # address it is given.
        if self.traits.reaches(contact.value, contact.network):
            return True
        return self.default is not None and accounts.for_store(store_id, self.name) is None

    def route(self, message: OutgoingMessage) -> Route:
        """The store's own account when it has one (its rate limit, else its provider's
        documented one, and its provider's key trait), else the deployment-wide channel;
        read in the worker's main thread."""
        cfg = accounts.for_store(message.store_id, self.name)
        if cfg is None and self.default is not None:
            return channel_route(self.default, message)
        if cfg is None:
            error = f"store {message.store_id} has no {self.name} account"
            return Route(key=f"none:{self.name}", send=lambda _m: SendResult.failed(error))
        live = accounts.provider(cfg)
        return Route(
            key=f"account:{cfg.id}",
            send=live.sender_for(message),
            provider=cfg.provider,
            rate=providers.rate(cfg),
            honours_keys=providers.honours_idempotency_key(cfg),
        )

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        by_store: dict[int, list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            by_store[message.store_id].append(i)
        for store_id, indexes in by_store.items():
            cfg = accounts.for_store(store_id, self.name)
            if cfg is None and self.default is not None:
                sent = self.default.send([messages[i] for i in indexes])
            elif cfg is None:
                for i in indexes:
                    results[i] = SendResult.failed(f"store {store_id} has no {self.name} account")
                continue
            else:
                sent = accounts.provider(cfg).send([messages[i] for i in indexes])
            for i, result in zip(indexes, sent, strict=True):
                results[i] = result
        return [r if r is not None else SendResult.retry("not sent") for r in results]

    def close(self) -> None:
        if self.default is not None:
            self.default.close()
        accounts.forget()


def from_settings(spec: str | None = None, *, accounts: bool | None = None) -> dict[str, Channel]:
    """The channels the worker sends on: those of ``spec`` (default: TOUCHFLOW_CHANNELS)
    and, with ``accounts`` (the default when reading the settings), every channel also
    through the stores' own provider accounts, the spec's channel serving the stores
    that have none."""
    spec_channels = configured(spec)
    if not (spec is None if accounts is None else accounts):
        return spec_channels
    return {name: AccountChannel(name, spec_channels.get(name)) for name in channels.NAMES}
