"""The chains in force, as the engine and the funnel read them."""

from __future__ import annotations

from collections.abc import Sequence

from touchflow.core.ttlcache import TTLCache
from touchflow.flows.models import Flow, FlowStatus, FlowStep


def live_steps(flow: Flow) -> list[FlowStep]:
    return [s for s in flow.steps.order_by("position") if not s.retired]


def matches_categories(flow: Flow, categories: Sequence[str]) -> bool:
    return not flow.categories or bool(set(flow.categories) & set(categories))



_active: TTLCache[str, list[Flow]] = TTLCache()


def active_flows() -> list[Flow]:
    """The active chains, re-read once per ``TOUCHFLOW_CACHE_SECONDS`` per process."""
    return _active.get("active", lambda: list(Flow.objects.filter(status=FlowStatus.ACTIVE)))


def forget_active_flows() -> None:
    _active.clear()

