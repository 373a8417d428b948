"""Engine codes (channels, step kinds, reasons, delays) put into the staff member's words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from touchflow.core import channels as core_channels

_KINDS: dict[str, Callable[[], str]] = {
    "info": lambda: _("Information"),
    "entertainment": lambda: _("Entertainment"),
    "offer": lambda: _("Offer"),
    "check_in": lambda: _("Check-in"),
    "referral_request": lambda: _("Referral request"),
    "gratitude": lambda: _("Thank-you"),
    "call": lambda: _("Phone call"),
}

# Why a touch ended up where it is, or why an enrollment ended.
_REASONS: dict[str, Callable[[], str]] = {
    "quiet_hours": lambda: _("quiet hours"),
    "capped": lambda: _("too many messages this week"),
    "no_channel": lambda: _("no channel configured"),
    "no_contact": lambda: _("no contact for these channels"),
    "no_consent": lambda: _("no consent"),
    "no_marketing_consent": lambda: _("no consent to offers"),
    "expired": lambda: _("too late to send"),
    "expired_retrying": lambda: _("too late to retry"),
    "flow_paused": lambda: _("chain paused"),
    "purchase": lambda: _("bought"),
    "opt_out": lambda: _("unsubscribed"),
    "erased": lambda: _("data erased on request"),
    "completed": lambda: _("chain completed"),
    "rejected": lambda: _("refused by the provider"),
    "gave_up": lambda: _("gave up after retries"),
    "retry": lambda: _("will retry"),
}


def channel(code: str) -> str:
    """A channel's name (core.channels); a call task's "call" too."""
    if code == "call":
        return _("Phone call")
    return core_channels.label(code)


def channels(codes: list[str]) -> str:
    """A preference list, in order: "Telegram → Viber → SMS"."""
    return " → ".join(channel(c) for c in codes)


def kind(code: str) -> str:
    found = _KINDS.get(code)
    return found() if found else code


def reason(code: str) -> str:
    found = _REASONS.get(code)
    return found() if found else code


def duration(seconds: int) -> str:
    """A span in words, largest units first: "1 week 2 days", "3 hours", "0 minutes"."""
    units: tuple[tuple[int, Callable[[int], str]], ...] = (
        (7 * 86400, lambda n: ngettext("%(n)d week", "%(n)d weeks", n)),
        (86400, lambda n: ngettext("%(n)d day", "%(n)d days", n)),
        (3600, lambda n: ngettext("%(n)d hour", "%(n)d hours", n)),
        (60, lambda n: ngettext("%(n)d minute", "%(n)d minutes", n)),
    )
    parts = []
    rest = seconds
    for size, word in units:
        count, rest = divmod(rest, size)
        if count:
            parts.append(word(count) % {"n": count})
    return " ".join(parts) or ngettext("%(n)d minute", "%(n)d minutes", 0) % {"n": 0}


def delay(seconds: int, anchor: str, first: bool) -> str:
    """When a step is due: "3 days after the previous step", "at once after entering"."""
    if first or anchor == "entry":
        if not seconds:
            return _("right after entering the chain")
        return _("%(span)s after entering the chain") % {"span": duration(seconds)}
    if not seconds:
        return _("right after the previous step")
    return _("%(span)s after the previous step") % {"span": duration(seconds)}


def send_time(send_at: time | None, start: time | None, end: time | None) -> str:
    """The local time or window a step waits for, in the customer's own zone."""
    if send_at is not None:
        return _("at %(time)s, customer's local time") % {"time": send_at.strftime("%H:%M")}
    if start is not None and end is not None:
        return _("between %(start)s and %(end)s, customer's local time") % {
            "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
        }
    return _("any time outside quiet hours")
