"""What to do with one due touch right now: the rules of SPEC §4, applied at send time.

Pure functions over data loaded once per batch; the dispatcher carries out the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

from touchflow.core import channels
from touchflow.core.localtime import next_allowed
from touchflow.flows.schedule import Policy

NEVER = datetime.max.replace(tzinfo=UTC)

# The reason a touch waits in the queue when none of its step's channels is configured
# for its store: the deployment lacks something, not the customer (decision 0007).
NO_CHANNEL = "no_channel"
# How often such a touch is judged again: a store's new channel account is picked up by
# a running worker, so it goes out within this time of the account's arrival.
CHANNEL_RECHECK = timedelta(minutes=5)
# How often a commercial touch held for an unhappy customer is looked at again (it goes
# once the complaint is resolved, or expires as held: aftercare's escalations).
HOLD_RECHECK = timedelta(hours=1)
HELD = "held"


class Contact(NamedTuple):
    """A contact point as a verdict reads it (a tuple: one is made per contact point of
    every customer of a group; a frozen dataclass cost three times as much to make)."""

    kind: str
    value: str
    contact_consent: bool | None
    marketing_consent: bool | None
    network: str = ""
    undeliverable: bool = False  # a hard bounce: nothing goes there until corrected


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class Send:
    channel: str
    address: str


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Drop:
    """The touch ends without a message: skipped, expired or cancelled, with a reason."""

    state: str
    reason: str


@dataclass(frozen=True)
class MakeTask:
    pass


Verdict = Send | Defer | Drop | MakeTask


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class Recent:
    """What a customer received in the cap period (finished_at of each sent touch)."""

    sent: tuple[datetime, ...] = ()
    commercial: tuple[datetime, ...] = ()


# Whether a channel can deliver to this address (a Telegram bot cannot write to a
# @username, only to a chat that opened it).
Accepts = Callable[[str, Contact], bool]


@dataclass(frozen=True)
class Unconfigured:
    """None of the step's channels is configured for the touch's store."""


def choose_channel(
    preferences: Sequence[str],
    contacts: Sequence[Contact],
    available: Sequence[str],
    commercial: bool,
    failed: Sequence[str] = (),
    accepts: Accepts | None = None,
) -> Send | Drop | Unconfigured:
    """The first preferred channel that is configured, has not failed for good on this
    touch, and where the customer has a usable contact with consent (marketing consent
    too for commercial steps).

    Skipped only for a reason that is the customer's (no usable contact, no consent);
    when the store has none of the channels at all, the answer is ``Unconfigured``.
    """
    configured = [c for c in preferences if c in available]
    if not configured:
        return Unconfigured()
    reason = "no_contact"
    for channel in configured:
        if channel in failed:
            continue
        kind = channels.contact_kind(channel)
        for contact in contacts:
            if contact.kind != kind or contact.undeliverable:
                continue
            if accepts is not None and not accepts(channel, contact):
                continue
            if contact.contact_consent is not True:
                reason = "no_consent"
                continue
            if commercial and contact.marketing_consent is not True:
                reason = "no_marketing_consent"
                continue
            return Send(channel, contact.value)
    return Drop("skipped", reason)


def cap_release(recent: Recent, commercial: bool, policy: Policy) -> datetime | None:
    """None when under the caps; otherwise the instant the oldest counted message leaves
    the period, which is when the touch may go (``NEVER`` when the cap is zero)."""
    limits = [(recent.sent, policy.cap_messages)]
    if commercial:
        limits.append((recent.commercial, policy.cap_commercial))
    release: datetime | None = None
    for times, cap in limits:
        if len(times) < cap:
            continue
        if cap == 0:
            return NEVER
        candidate = sorted(times)[-cap] + policy.cap_period
        release = candidate if release is None else max(release, candidate)
    return release


def judge(
    *,
    now: datetime,
    kind: str,
    expires_at: datetime,
    tz_name: str,
    policy: Policy,
    window_start: time | None,
    window_end: time | None,
    preferences: Sequence[str],
    contacts: Sequence[Contact],
    available: Sequence[str],
    commercial: bool,
    when_capped: str,
    recent: Recent,
    failed: Sequence[str] = (),
    accepts: Accepts | None = None,
    held: bool = False,
) -> Verdict:
    """The verdict for one touch whose enrollment is still active. ``held``: the
    customer's complaint is open, and no commercial message goes until it is resolved."""
    if now > expires_at:
        return Drop("expired", "expired")
    if held and commercial:
        if now + HOLD_RECHECK > expires_at:
            return Drop("expired", HELD)
        return Defer(now + HOLD_RECHECK, HELD)
    if kind == "call":
        # A person calls the phone: it needs the customer's consent like any message.
        phones = [c for c in contacts if c.kind == "phone"]
        if not phones:
            return Drop("skipped", "no_contact")
        if not any(c.contact_consent is True for c in phones):
            return Drop("skipped", "no_consent")
        return MakeTask()
    window = (window_start, window_end) if window_start and window_end else None
    allowed_at = next_allowed(now, tz_name, policy.quiet, window)
    if allowed_at > now:
        if allowed_at > expires_at:
            return Drop("expired", "quiet_hours")
        return Defer(allowed_at, "quiet_hours")
    route = choose_channel(preferences, contacts, available, commercial, failed, accepts)
    if isinstance(route, Unconfigured):
        # Not the customer's doing: it waits, and the worker says what is missing.
        return Defer(now + CHANNEL_RECHECK, NO_CHANNEL)
    if isinstance(route, Drop):
        return route
    release = cap_release(recent, commercial, policy)
    if release is not None and release > now:
        if when_capped == "skip":
            return Drop("skipped", "capped")
        if release > expires_at:
            return Drop("expired", "capped")
        return Defer(release, "capped")
    return route
