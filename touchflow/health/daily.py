"""The worker's daily refresh of every store's health (``touchflow worker``'s chores).

A store is due once its snapshot describes a day before the store's own today (so each
store is refreshed soon after its midnight). Any number of workers share the work: a
worker claims one due store at a time by setting its ``StoreFit.claimed_until`` with one
conditional UPDATE (the row lock makes a second worker's UPDATE find the claim and
change nothing), refreshes it, and the refresh clears the claim. A worker that dies
mid-refresh leaves a claim that runs out after ``LEASE``; a store whose refresh fails is
tried again after it too, not in a loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from django.db.models import F, Q

from touchflow.core import clock
from touchflow.health import actions, queries
from touchflow.health.models import StoreFit
from touchflow.stores.models import Store

log = logging.getLogger(__name__)


class Daily:
    """Refreshes at most one due store per ``tick``; while none is due it asks the
    database at most once per ``CHECK``."""

    CHECK = timedelta(minutes=15)
    LEASE = timedelta(hours=1)

    def __init__(self, now: Callable[[], datetime] = clock.now) -> None:
        self.now = now
        self.next_check: datetime | None = None

    def tick(self) -> StoreFit | None:
        """Refresh one due store, if any. Never raises: a worker's deliveries must not
        stop because a chore failed (it is logged; the store's claim runs out and it is
        tried again)."""
        try:
            return self._tick()
        except Exception:  # noqa: BLE001
            log.exception("relationship health refresh failed")
            return None

    def _tick(self) -> StoreFit | None:
        now = self.now()
        if self.next_check is not None and now < self.next_check:
            return None
        store = claim(now, self.LEASE)
        if store is None:
            self.next_check = now + self.CHECK
            return None
        self.next_check = None  # another store may be due: look again at the next tick
        fit = actions.refresh(store, queries.today_in(store, now))
        log.info("relationship health of %s refreshed: %d buyers (%d cold), %d prospects "
                 "(%d cold) in %.1f s", store.slug, fit.buyers, fit.cold_buyers,
                 fit.prospects, fit.cold_prospects, fit.seconds)
        return fit


def claim(now: datetime, lease: timedelta) -> Store | None:
    """The store whose snapshot is oldest among those due and unclaimed, claimed for
    ``lease``; None when every store is up to date or in another worker's hands."""
    actions.ensure_fits()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    rows = (StoreFit.objects.filter(free).select_related("store")
            .order_by(F("as_of").asc(nulls_first=True), "store_id"))
    for fit in rows:
        today = _today(fit.store, now)
        if fit.as_of is not None and fit.as_of >= today:
            continue
        stale = Q(as_of__isnull=True) | Q(as_of__lt=today)
        if StoreFit.objects.filter(free, stale, pk=fit.pk).update(claimed_until=now + lease):
            return fit.store
    return None


def _today(store: Store, now: datetime) -> date:
    """The store's calendar day; a store whose time zone cannot be read counts as due
    (UTC's day), so that its refresh fails in the log, under a claim, instead of this
    loop failing for every store."""
    try:
        return queries.today_in(store, now)
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(UTC).date()
