"""What the active chains need that a worker's channels cannot send (decision 0007).

A touch whose store has none of its step's channels waits in the queue (it is not the
customer's fault, so it is not skipped); the worker says what is missing when it starts
and after every round in which touches had to wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from touchflow.core.channels import position
from touchflow.delivery.channels.base import Channel, serves
from touchflow.flows.queries import active_flows, live_steps
from touchflow.stores.models import Store

HOW_TO_FIX = (
    "Set TOUCHFLOW_CHANNELS (e.g. email=outbox:var/outbox) or add the store's own account "
    "(touchflow channels add STORE PROVIDER)."
)


@dataclass(frozen=True)
class Gap:
    """A store that cannot send some steps of the active chains: none of their channels
    is configured for it."""

    store: str
    steps: tuple[str, ...]  # "chain/step"
    channels: tuple[str, ...]  # what those steps could go out on

    def __str__(self) -> str:
        return (
            f"store {self.store}: {', '.join(self.steps)} "
            f"(needs one of: {', '.join(self.channels)})"
        )


def gaps(channels: Mapping[str, Channel]) -> list[Gap]:
    """Every store that has none of the channels of some message step of an active chain."""
    steps = [s for flow in active_flows() for s in live_steps(flow) if s.kind != "call"]
    if not steps:
        return []
    found = []
    for store in Store.objects.order_by("slug"):
        usable = {name for name, channel in channels.items() if serves(channel, store.pk)}
        lacking = [s for s in steps if not usable.intersection(s.channels)]
        if lacking:
            found.append(
                Gap(
                    store=store.slug,
                    steps=tuple(f"{s.flow.slug}/{s.key}" for s in lacking),
                    channels=_union(s.channels for s in lacking),
                )
            )
    return found


def nothing_usable(channels: Mapping[str, Channel]) -> bool:
    """No store can send on any channel at all (nothing configured anywhere)."""
    return not any(
        serves(channel, store_id)
        for store_id in Store.objects.values_list("pk", flat=True)
        for channel in channels.values()
    )


def waiting_summary(count: int, missing: Mapping[str, Iterable[str]]) -> str:
    """One line for a round in which ``count`` touches waited: store → channels."""
    stores = "; ".join(
        f"store {store}: {', '.join(sorted(chs, key=position))}"
        for store, chs in sorted(missing.items())
    )
    return (
        f"{count} touch(es) wait in the queue: no channel configured for them — {stores}. "
        f"{HOW_TO_FIX}"
    )


def _union(lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for names in lists for name in names))
