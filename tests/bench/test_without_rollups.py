"""The "figures off" side of ``python -m bench rollups`` differs from the app in the
rollups only: a visit logged with them off writes its visit and timeline row, and no
count; with them on, its count."""

from __future__ import annotations

import pytest

from bench.without_rollups import switch_off
from touchflow.customers.actions import ContactInput
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import FigureDelta, TimelineEvent
from touchflow.visits.models import Visit


def _visit(store: Store, seller: Staff) -> None:
    log_visit(store=store, actor=Actor(source="counter", staff=seller), bought=False,
              contact_capture="taken", contacts=[ContactInput("email", "a@example.com")],
              reason="just_looking")


@pytest.mark.django_db
def test_switched_off_a_visit_writes_everything_but_its_count(
    store: Store, salesperson: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    _visit(store, salesperson)
    assert FigureDelta.objects.count() > 0
    counted = FigureDelta.objects.count()
    switch_off(monkeypatch.setattr)
    _visit(store, salesperson)
    assert Visit.objects.count() == 2 and TimelineEvent.objects.filter(kind="visit").count() == 2
    assert FigureDelta.objects.count() == counted
