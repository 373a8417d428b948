"""The delivery engine's pure rules, tested as such: no database, no clock, no server.

The verdict for a due touch (``policies.judge``), the wait before a retry
(``RetryPolicy``) and what a provider's answer makes of a touch
(``transitions.result``) are functions of their arguments; these tests give them
values and read the answer. (Any database access here would fail: no test asks for one.)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from touchflow.delivery.channels.base import SendResult
from touchflow.delivery.due import Due, DueCustomer, DueEnrollment
from touchflow.delivery.policies import (
    HOLD_RECHECK,
    Contact,
    Defer,
    Drop,
    MakeTask,
    Recent,
    Send,
    judge,
)
from touchflow.delivery.retry import RetryPolicy
from touchflow.delivery.transitions import Reason, result
from touchflow.flows.models import Flow, FlowStep
from touchflow.flows.schedule import Policy
from touchflow.stores.models import Store

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # a Tuesday; 14:00 in Warsaw
POLICY = Policy(quiet=(time(21, 0), time(9, 0)), cap_messages=2, cap_commercial=1,
                cap_period=timedelta(days=7))
PHONE = Contact("phone", "+48501234567", True, True)
EMAIL = Contact("email", "anna@example.com", True, False)


def verdict(**overrides: object) -> object:
    args: dict[str, object] = {
        "now": NOON, "kind": "info", "expires_at": NOON + timedelta(days=1),
        "tz_name": "Europe/Warsaw", "policy": POLICY, "window_start": None,
        "window_end": None, "preferences": ("sms", "email"), "contacts": (PHONE, EMAIL),
        "available": ("sms", "email"), "commercial": False, "when_capped": "defer",
        "recent": Recent(),
    }
    args.update(overrides)
    return judge(**args)  # type: ignore[arg-type]


# -- the verdict ----------------------------------------------------------------------


def test_a_due_touch_goes_on_the_first_preferred_channel_with_a_consenting_contact() -> None:
    assert verdict() == Send("sms", PHONE.value)


def test_quiet_hours_in_the_customers_zone_defer_to_their_morning() -> None:
    late = datetime(2026, 6, 2, 20, 30, tzinfo=UTC)  # 22:30 in Warsaw
    found = verdict(now=late, expires_at=late + timedelta(days=2))
    assert found == Defer(datetime(2026, 6, 3, 7, 0, tzinfo=UTC), "quiet_hours")  # 09:00 CEST
    # The same instant is 16:30 in New York: no quiet hours there.
    assert verdict(now=late, tz_name="America/New_York") == Send("sms", PHONE.value)


def test_quiet_hours_that_outlast_the_expiry_expire_the_touch() -> None:
    late = datetime(2026, 6, 2, 20, 30, tzinfo=UTC)
    assert verdict(now=late, expires_at=late + timedelta(hours=1)) == Drop(
        "expired", "quiet_hours"
    )


def test_the_cap_defers_until_the_oldest_send_leaves_the_period() -> None:
    sent = (NOON - timedelta(days=6), NOON - timedelta(days=1))
    found = verdict(recent=Recent(sent=sent), expires_at=NOON + timedelta(days=3))
    assert isinstance(found, Defer) and found.reason == "capped"
    assert found.until >= sent[0] + POLICY.cap_period


def test_offers_have_their_own_smaller_cap() -> None:
    recent = Recent(sent=(NOON - timedelta(days=1),), commercial=(NOON - timedelta(days=1),))
    offer = verdict(commercial=True, recent=recent, when_capped="skip")
    assert offer == Drop("skipped", "capped")
    assert verdict(recent=recent) == Send("sms", PHONE.value)  # not an offer: one left


def test_an_offer_needs_marketing_consent_on_the_contact() -> None:
    # The e-mail has consent to be contacted but not to receive offers.
    found = verdict(commercial=True, contacts=(EMAIL,))
    assert isinstance(found, Drop) and found.state == "skipped"


def test_an_unhappy_customers_offers_are_held_and_nothing_else() -> None:
    held = verdict(commercial=True, held=True)
    assert held == Defer(NOON + HOLD_RECHECK, "held")
    assert verdict(held=True) == Send("sms", PHONE.value)  # a check-in or a tip still goes
    assert verdict(commercial=True, held=True, expires_at=NOON + timedelta(minutes=30)) == Drop(
        "expired", "held")
    assert verdict(commercial=True) == Send("sms", PHONE.value)  # released


def test_a_failed_channel_is_passed_over_for_the_next_one() -> None:
    assert verdict(failed=("sms",)) == Send("email", EMAIL.value)
    assert isinstance(verdict(failed=("sms", "email")), Drop)


def test_a_call_step_needs_a_consenting_phone() -> None:
    assert verdict(kind="call") == MakeTask()
    assert verdict(kind="call", contacts=(EMAIL,)) == Drop("skipped", "no_contact")


# -- the retry wait ---------------------------------------------------------------------


def test_retries_back_off_exponentially_within_the_jitter_and_the_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(hours=2), jitter=0.25)
    rng = random.Random(3)
    for attempts, middle in ((1, 30), (2, 60), (3, 120), (10, 7200)):
        wait = policy.delay(attempts, rng=rng).total_seconds()
        assert middle * 0.75 <= wait <= middle * 1.25


def test_retry_after_wins_when_longer_but_never_beyond_the_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=10), jitter=0.0)
    assert policy.delay(1, retry_after=120).total_seconds() == 120
    assert policy.delay(1, retry_after=99999).total_seconds() == 600


# -- what an answer makes of a touch ------------------------------------------------------


def due(**overrides: object) -> Due:
    flow = Flow(slug="warming")
    step = FlowStep(key="hello", flow=flow)
    values: dict[str, object] = {
        "pk": 1, "customer_id": 2, "store_id": 3, "commercial": False, "due_at": NOON,
        "expires_at": NOON + timedelta(days=1), "state": "queued", "channel": "sms",
        "attempts": 0, "last_error": "", "idempotency_key": "k", "reason": "",
        "finished_at": None, "provider_message_id": "", "failed_channels": "",
        "in_flight_at": None, "step": step,
        "enrollment": DueEnrollment(pk=4, state="active", end_reason="", entered_at=NOON,
                                    flow=flow, flow_id=5, staff=None, staff_id=None,
                                    customer_id=2, store_id=3),
        "customer": DueCustomer(pk=2, name="Anna", language="pl", time_zone="Europe/Warsaw"),
        "store": Store(name="Warsaw"),
    }
    values.update(overrides)
    return Due(**values)  # type: ignore[arg-type]


RETRY = RetryPolicy(max_attempts=3, jitter=0.0)


def answer(outcome: SendResult, *, keys: bool = True, fall_back: bool = False,
           touch: Due | None = None) -> tuple[str, str, bool]:
    made = result(touch or due(), NOON, outcome, RETRY, honours_keys=keys,
                  can_fall_back=fall_back)
    return made.update.state, made.update.reason, made.advance


def test_a_sent_answer_ends_the_touch_and_moves_the_chain_on() -> None:
    assert answer(SendResult.sent("p1")) == ("sent", "", True)


def test_a_transient_failure_is_retried_until_the_attempts_run_out() -> None:
    assert answer(SendResult.retry("HTTP 500")) == ("queued", Reason.RETRY, False)
    assert answer(SendResult.retry("HTTP 500"), touch=due(attempts=2)) == (
        "dead", Reason.GAVE_UP, True
    )


def test_a_retry_past_the_expiry_expires() -> None:
    soon = due(expires_at=NOON + timedelta(seconds=5))
    assert answer(SendResult.retry("HTTP 503"), touch=soon) == (
        "expired", Reason.EXPIRED_RETRYING, True
    )


def test_a_permanent_refusal_falls_back_when_another_channel_can_carry_it() -> None:
    assert answer(SendResult.failed("HTTP 400"), fall_back=True) == (
        "queued", Reason.FALLBACK, False
    )
    assert answer(SendResult.failed("HTTP 400")) == ("dead", Reason.REJECTED, True)


@pytest.mark.parametrize(("keys", "expected"), [
    (True, ("queued", Reason.RETRY, False)),
    (False, ("uncertain", Reason.NO_ANSWER, True)),
])
def test_no_answer_is_retried_only_where_the_provider_drops_repeats(
    keys: bool, expected: tuple[str, str, bool]
) -> None:
    assert answer(SendResult.unknown("ReadTimeout"), keys=keys) == expected


def test_a_refused_connection_is_retried_even_without_keys() -> None:
    assert answer(SendResult.retry("ConnectError"), keys=False) == ("queued", Reason.RETRY, False)
