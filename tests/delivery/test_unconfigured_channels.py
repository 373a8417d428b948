"""A worker without a channel for a touch never loses it (decision 0007): the touch waits in
the queue and the worker says what is missing, once per round; a customer without a usable
contact on the channels that are configured is still skipped. A one-off run with no
channel at all refuses and touches nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.cli import build_app
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Attempt, Touch
from touchflow.delivery.policies import Contact, Drop, Send, Unconfigured, choose_channel
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.usefixtures("flows")

DUE = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # the warming chain's thank-you


@pytest.fixture(autouse=True)
def _fresh_accounts() -> Iterator[None]:
    accounts.forget()
    yield
    accounts.forget()


def lead(store: Store, phone: str, staff: Staff | None = None) -> Visit:
    visit, _ = log_visit(
        store=store, actor=Actor(source="counter", staff=staff), bought=False,
        reason="just_looking", contact_capture="taken",
        contacts=[check_contact("phone", phone, region="PL")], consent=ConsentGrant(),
    )
    return visit


def thank_you(visit: Visit) -> Touch:
    return Touch.objects.get(step__key="thank-you", customer_id=visit.customer_id)


def test_a_touch_with_no_channel_configured_waits_and_goes_out_once_one_is(
    store: Store, salesperson: Staff, clock: Clock, caplog: pytest.LogCaptureFixture,
    make_dispatcher: Callable[..., Dispatcher], sink: tuple[Sink, str],
) -> None:
    first, second = lead(store, "501 234 567"), lead(store, "601 234 567")
    clock.move_to(DUE)
    with caplog.at_level(logging.WARNING, logger="touchflow.delivery.dispatcher"):
        stats = make_dispatcher(channels="").drain()
    assert (stats.claimed, dict(stats.outcomes), stats.waiting) == (2, {"queued": 2}, 2)
    assert dict(stats.missing) == {"warsaw": {"telegram", "viber", "whatsapp", "sms", "email"}}
    # Said once for the round, not once per touch, naming the store and what it lacks.
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("2 touch(es) wait in the queue: no channel configured for them")
    assert "store warsaw: telegram, viber, whatsapp, sms, email" in warning
    for visit in (first, second):
        touch = thank_you(visit)
        assert (touch.state, touch.reason, touch.attempts, touch.finished_at) == (
            "queued", "no_channel", 0, None)
        assert touch.due_at > DUE
    assert not TimelineEvent.objects.filter(kind="touch").exists()
    assert not Attempt.objects.exists()

    # Once a channel is there, the next look sends them.
    clock.move_to(thank_you(first).due_at)
    stats = make_dispatcher().drain()
    assert dict(stats.outcomes) == {"sent": 2}
    assert stats.waiting == 0
    assert len(sink[0].received) == 2


def test_the_customers_own_lack_of_contact_is_still_a_skip(
    store: Store, clock: Clock, make_dispatcher: Callable[..., Dispatcher],
) -> None:
    visit = lead(store, "501 234 567")
    clock.move_to(DUE)
    stats = make_dispatcher(channels="telegram=null:").drain()
    assert stats.waiting == 0
    touch = thank_you(visit)
    assert (touch.state, touch.reason) == ("skipped", "no_contact")


def test_a_worker_round_holds_only_the_store_without_a_channel(
    store: Store, make_store: Callable[..., Store], clock: Clock, settings: object,
) -> None:
    krakow = make_store(name="Kraków", slug="krakow")
    account = ChannelAccount(store=store, provider="telegram", handle="warsaw_bot")
    account.credentials = {"token": "123:ABC", "secret_token": "s3cr3t"}
    account.save()
    in_warsaw, in_krakow = lead(store, "501 234 567"), lead(krakow, "601 234 567")
    settings.TOUCHFLOW_CHANNELS = ""  # type: ignore[attr-defined]
    result = CliRunner().invoke(
        build_app(), ["worker", "--once", "--now", DUE.isoformat()], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    # Said at start and after the round: Kraków has none of the chains' channels.
    [krakow_line] = [ln for ln in result.output.splitlines() if "  store krakow: " in ln]
    assert "warming/thank-you" in krakow_line
    assert "(needs one of: telegram, viber, whatsapp, sms, email)" in krakow_line
    assert "store warsaw" not in result.output
    assert "1 of them wait in the queue for a channel (stores: krakow)." in result.output
    assert "claimed 2: queued 1, skipped 1" in result.output
    # Warsaw has Telegram but the customer never opened its bot: that is theirs to skip.
    assert (thank_you(in_warsaw).state, thank_you(in_warsaw).reason) == ("skipped", "no_contact")
    assert (thank_you(in_krakow).state, thank_you(in_krakow).reason) == ("queued", "no_channel")


def test_a_one_off_run_with_no_channel_at_all_refuses_and_changes_nothing(
    store: Store, clock: Clock, settings: object,
) -> None:
    visit = lead(store, "501 234 567")
    before = thank_you(visit)
    settings.TOUCHFLOW_CHANNELS = ""  # type: ignore[attr-defined]
    later = (DUE + timedelta(days=1)).isoformat()
    result = CliRunner().invoke(build_app(), ["worker", "--once", "--now", later])
    assert result.exit_code == 2, result.output
    assert "No channel is configured" in result.output
    [line] = [ln for ln in result.output.splitlines() if "  store warsaw: " in ln]
    assert "warming/thank-you" in line
    assert "TOUCHFLOW_CHANNELS" in result.output
    after = thank_you(visit)
    assert (after.state, after.reason, after.due_at, after.lease_owner) == (
        before.state, before.reason, before.due_at, before.lease_owner)


# -- the rule itself, without a database ---------------------------------------------------

PHONE_OK = Contact("phone", "+48501234567", True, None)


def test_the_rule_waits_only_when_the_store_has_none_of_the_steps_channels() -> None:
    assert choose_channel(["sms", "email"], [PHONE_OK], [], False) == Unconfigured()
    assert choose_channel(["sms"], [PHONE_OK], ["email"], False) == Unconfigured()
    assert choose_channel(["sms", "email"], [PHONE_OK], ["sms"], False) == Send(
        "sms", "+48501234567")
    assert choose_channel(["email"], [PHONE_OK], ["email"], False) == Drop("skipped", "no_contact")
    # Configured, but it failed for good on this touch: the customer's address, not ours.
    assert choose_channel(["sms"], [PHONE_OK], ["sms"], False, failed=["sms"]) == Drop(
        "skipped", "no_contact")
    no_consent = Contact("phone", "+48501234567", False, None)
    assert choose_channel(["sms"], [no_consent], ["sms"], False) == Drop("skipped", "no_consent")
