"""Retention: old texts cleared, old webhook ids forgotten; the worker runs it daily."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import time_machine
from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.core import clock
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.privacy import retention
from touchflow.privacy.actor import Requester
from touchflow.privacy.models import AuditEntry
from touchflow.stores.models import Store
from touchflow.timeline.models import EventKind, TimelineEvent

from .conftest import Seeded

runner = CliRunner()


def _age_everything(seeded: Seeded, days: int) -> None:
    """Move the seeded replies and call task ``days`` into the past."""
    past = clock.now() - timedelta(days=days)
    TimelineEvent.objects.filter(customer=seeded.customer, kind__in=retention.TEXT_KINDS
                                 ).update(at=past)
    seeded.customer.call_tasks.update(due_at=past, state="done")


def _reply(seeded: Seeded, store: Store, text: str, at: datetime) -> TimelineEvent:
    return TimelineEvent.objects.create(customer=seeded.customer, kind=EventKind.MESSAGE_IN,
                                        at=at, store=store, data={"channel": "sms", "text": text})


def _events(store: Store, now: datetime) -> ChannelAccount:
    account = ChannelAccount.objects.create(store=store, provider="telegram")
    for days in (1, 7, 9, 30):
        InboundEvent.objects.create(account=account, event_id=f"u-{days}", kind="text",
                                    received_at=now - timedelta(days=days))
    return account


def test_old_texts_are_cleared_new_ones_kept(seeded: Seeded, store: Store,
                                             traveller: Any) -> None:
    _age_everything(seeded, 400)
    fresh = _reply(seeded, store, "recent words", clock.now() - timedelta(days=30))
    _events(store, clock.now())

    report = retention.run(Requester.cli())

    assert report.counts == {"message_texts": 2, "call_scripts": 1, "inbound_events": 2}
    old = TimelineEvent.objects.filter(customer=seeded.customer, kind__in=retention.TEXT_KINDS
                                       ).exclude(pk=fresh.pk)
    assert [(r.data["text"], r.data["text_cleared"], r.data["channel"]) for r in old] == [
        ("", True, "sms"), ("", True, "sms")]
    fresh.refresh_from_db()
    assert fresh.data == {"channel": "sms", "text": "recent words"}
    assert list(seeded.customer.call_tasks.values_list("script", flat=True)) == [""]
    assert sorted(InboundEvent.objects.values_list("event_id", flat=True)) == ["u-1", "u-7"]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.customer_id, entry.counts) == (
        "retention", None, report.counts)
    # A second run finds nothing left.
    assert retention.run(Requester.cli()).counts == {
        "message_texts": 0, "call_scripts": 0, "inbound_events": 0}


def test_the_period_is_configurable(seeded: Seeded, settings: Any, traveller: Any) -> None:
    _age_everything(seeded, 40)
    assert retention.run(Requester.cli(), dry_run=True).counts["message_texts"] == 0
    settings.TOUCHFLOW_RETENTION_DAYS = 30
    assert retention.run(Requester.cli(), dry_run=True).counts["message_texts"] == 2


def test_a_dry_run_changes_nothing(seeded: Seeded, store: Store, traveller: Any) -> None:
    _age_everything(seeded, 400)
    _events(store, clock.now())
    report = retention.run(Requester.cli(), dry_run=True)
    assert report.counts == {"message_texts": 2, "call_scripts": 1, "inbound_events": 2}
    assert InboundEvent.objects.count() == 4
    assert not TimelineEvent.objects.filter(data__has_key="text_cleared").exists()
    assert not AuditEntry.objects.exists()


def test_cli_retention(seeded: Seeded, traveller: Any) -> None:
    _age_everything(seeded, 400)
    dry = runner.invoke(build_app(), ["privacy", "retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would clear: message_texts 2, call_scripts 1, inbound_events 0" in dry.stdout
    done = runner.invoke(build_app(), ["privacy", "retention"])
    assert "cleared: message_texts 2" in done.stdout
    assert AuditEntry.objects.get().actor_kind == "cli"


def test_the_worker_runs_it_once_a_day_by_the_clock(seeded: Seeded,
                                                    traveller: time_machine.Coordinates
                                                    ) -> None:
    daily = retention.Daily()
    assert daily.tick() is not None  # never ran: runs now
    for hours in (1, 5, 23):
        traveller.move_to(retention_start() + timedelta(hours=hours))
        assert daily.tick() is None
    traveller.move_to(retention_start() + timedelta(hours=24, minutes=1))
    assert daily.tick() is not None
    assert AuditEntry.objects.filter(action="retention", actor_kind="worker").count() == 2


def retention_start() -> datetime:
    first = AuditEntry.objects.filter(action="retention").order_by("at").first()
    assert first is not None
    return first.at


def test_a_restarted_worker_does_not_run_it_again_the_same_day(
        seeded: Seeded, traveller: time_machine.Coordinates) -> None:
    assert retention.Daily().tick() is not None
    traveller.shift(timedelta(hours=3))
    assert retention.Daily().tick() is None  # a new process reads the log


def test_the_worker_loop_runs_its_chores_before_each_round(db: None) -> None:
    calls: list[int] = []
    rounds = iter(range(3))
    dispatcher = Dispatcher({})
    dispatcher.run_forever(idle_sleep=0, stop=lambda: next(rounds, None) is None,
                           chores=lambda: calls.append(1))
    assert len(calls) == 3


def test_a_failing_chore_never_stops_the_worker(db: None, settings: Any) -> None:
    settings.TOUCHFLOW_RETENTION_DAYS = "a year"  # a misconfiguration: int() fails
    daily = retention.Daily()
    assert daily.tick() is None
    assert not AuditEntry.objects.exists()
