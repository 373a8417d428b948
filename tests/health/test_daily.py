"""The worker's daily refresh (``health.daily.Daily``): one due store per tick, each store
once per its own calendar day, shared by several workers through a claim, never raising."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.health.conftest import TODAY, People
from touchflow.health.daily import Daily, claim
from touchflow.health.models import CustomerHealth, FitNote, StoreFit
from touchflow.stores.models import Store

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


class Moment:
    """A clock a test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def test_each_tick_refreshes_one_due_store_then_none_until_the_next_day(
        store: Store, krakow: Store, people: People) -> None:
    people.buys(store, people.customer(store), 60, 50, 40, 30)
    clock = Moment(NOON)
    chore = Daily(now=clock)

    first, second, third = chore.tick(), chore.tick(), chore.tick()

    assert first is not None and second is not None and third is None
    assert {first.store_id, second.store_id} == {store.pk, krakow.pk}
    assert set(StoreFit.objects.values_list("as_of", flat=True)) == {TODAY}
    assert CustomerHealth.objects.filter(store=store, cold=True).count() == 1
    clock.at = NOON + chore.CHECK  # asked again: still today everywhere
    assert chore.tick() is None
    clock.at = NOON + timedelta(hours=12)  # 00:00 in Warsaw (UTC+2): a new day there
    assert chore.tick() is not None and chore.tick() is not None
    assert set(StoreFit.objects.values_list("as_of", flat=True)) == {
        TODAY + timedelta(days=1)}


def test_between_checks_the_database_is_not_asked(store: Store,
                                                  django_assert_num_queries: object) -> None:
    clock = Moment(NOON)
    chore = Daily(now=clock)
    chore.tick()
    chore.tick()  # nothing due: the next look is a CHECK away
    clock.at = NOON + timedelta(minutes=5)
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert chore.tick() is None


def test_a_store_claimed_by_another_worker_is_left_to_it(store: Store, krakow: Store) -> None:
    taken = claim(NOON, Daily.LEASE)
    assert taken is not None

    other = Daily(now=Moment(NOON)).tick()

    assert other is not None and other.store_id != taken.pk
    assert Daily(now=Moment(NOON)).tick() is None  # the first worker's store: claimed
    # A worker that died: its claim runs out, and the store is refreshed after all.
    late = Daily(now=Moment(NOON + Daily.LEASE + timedelta(seconds=1))).tick()
    assert late is not None and late.store_id == taken.pk


def test_a_failing_refresh_is_logged_never_raised_and_not_retried_at_once(
        store: Store, krakow: Store, caplog: pytest.LogCaptureFixture) -> None:
    Store.objects.filter(pk=store.pk).update(time_zone="Nowhere/Atlantis")
    chore = Daily(now=Moment(NOON))

    with caplog.at_level(logging.ERROR, logger="touchflow.health.daily"):
        results = [chore.tick() for _ in range(4)]

    assert caplog.messages.count("relationship health refresh failed") == 1
    done = [r for r in results if r is not None]
    assert [r.store_id for r in done] == [krakow.pk]  # the broken store did not block it
    broken = StoreFit.objects.get(store=store)
    assert broken.note == FitNote.NEVER and broken.claimed_until == NOON + Daily.LEASE
