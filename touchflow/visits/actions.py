"""What a visit's reason, categories, contact capture and seller must be, and the lists
they are checked against. Logging one is ``funnel.visits.log_visit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from touchflow.core.errors import InvalidInput
from touchflow.core.ttlcache import TTLCache
from touchflow.stores.models import Category, Staff, Store
from touchflow.visits.classification import ContactCapture
from touchflow.visits.models import Reason

# The reason and category lists change rarely and are read on every visit; each
# process re-reads them once per TOUCHFLOW_CACHE_SECONDS (a new reason is usable
# everywhere within that time).
_lists: TTLCache[str, dict[str, Any]] = TTLCache()


def active_reasons() -> dict[str, Reason]:
    return _lists.get("reasons", lambda: {r.code: r for r in Reason.objects.filter(active=True)})


def active_categories() -> dict[str, Category]:
    return _lists.get(
        "categories", lambda: {c.slug: c for c in Category.objects.filter(active=True)}
    )


def check_reason(bought: bool, code: str | None) -> Reason | None:
    if bought:
        if code:
            raise InvalidInput(
                "reason", "A reason is given only when the customer did not buy.", "not_allowed"
            )
        return None
    if not code:
        raise InvalidInput("reason", "Say why the customer did not buy.", "required")
    reason = active_reasons().get(code)
    if reason is None:
        raise InvalidInput("reason", f"Unknown reason {code!r}.", "invalid_choice")
    return reason


def check_categories(codes: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        return []
    known = active_categories()
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InvalidInput(
            "categories", f"Unknown categories: {', '.join(unknown)}.", "invalid_choice"
        )
    return wanted


def check_capture(capture: str) -> ContactCapture:
    try:
        return ContactCapture(capture)
    except ValueError as exc:
        choices = ", ".join(ContactCapture.values)
        raise InvalidInput(
            "contact_capture", f"Must be one of: {choices}.", "invalid_choice"
        ) from exc


def check_staff(staff: Staff | None, store: Store) -> None:
    if staff is not None and not staff.works_in(store):
        raise InvalidInput(
            "staff", f"{staff.username} does not work in {store.name}.", "not_allowed"
        )
