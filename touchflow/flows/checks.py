"""What is checked in a chain before it runs, beyond its file being valid: the wording
of every text (``guardrails``) and the chain's shape (SPEC §3.8: how much of it sells,
whether it sells first, whether its cadence runs into the stores' caps, whether a
warming chain goes on too long).

Warnings, not errors: ``flows validate`` prints them, the editor shows them next to
the field, and activating a chain with warnings open asks the manager to acknowledge
each one (``funnel.chains.activate``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from touchflow import guardrails
from touchflow.flows.spec import FlowSpec, StepSpec

# The share of a chain's messages that may sell (SPEC §3.8; seed 000: mostly helpful).
COMMERCIAL_SHARE = 1 / 3
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class Caps:
    """A store's caps (``Store.cap_*``): the strictest store is what a chain meets."""

    messages: int
    commercial: int
    period: timedelta


@dataclass(frozen=True)
class Warning:
    check: str  # "tone", "commercial_share", "offer_first", "caps", "too_long"
    step: str  # the step's key, "" for the chain as a whole
    language: str
    message: str
    # A tone warning's: which text, the category, the words found, a kinder wording.
    part: str = ""  # "subject", "text" or "script"
    category: str = ""
    words: tuple[str, ...] = ()
    suggestion: str = ""

    @property
    def where(self) -> str:
        return " · ".join(p for p in (self.step, self.language, self.part) if p)

    @property
    def key(self) -> str:
        """The same warning on the same text has the same key: what a manager ticks to
        acknowledge it, and what activation compares."""
        fields = (self.check, self.where, self.category, " ".join(self.words), self.message)
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]

    def as_record(self) -> dict[str, str]:
        """As the chain's history keeps an acknowledged warning."""
        words = " ".join(self.words)
        return {"check": self.check, "where": self.where, "message": self.message,
                **({"words": words, "suggestion": self.suggestion} if words else {})}


def warnings(spec: FlowSpec, caps: Sequence[Caps] = (),
             warming_days: int | None = None) -> list[Warning]:
    return [*shape(spec, caps, warming_days), *tone(spec)]


def tone(spec: FlowSpec) -> Iterator[Warning]:
    """Win–lose or pushy wording in each step's texts (template tags read as blanks)."""
    for step in spec.steps:
        for language, message in step.messages.items():
            parts = {"subject": message.subject, "script" if step.is_call else "text": message.text}
            for part, source in parts.items():
                for flag in guardrails.check(blanked(source), language):
                    yield Warning("tone", step.key, language, flag.why, part, flag.category,
                                  flag.words, flag.suggestion)


def blanked(source: str) -> str:
    """A template's text as the tone check reads it: each tag (``{{ store.name }}``,
    ``{% if %}``, ``{# #}``) replaced by as many spaces, so offsets still point into
    the source. A variable's text is not the manager's wording."""
    return _TAGS.sub(lambda tag: " " * len(tag.group()), source)


def shape(spec: FlowSpec, caps: Sequence[Caps] = (),
          warming_days: int | None = None) -> list[Warning]:
    found = [*_selling(spec), *_cadence(spec, caps)]
    if warming_days is not None and warming(spec):
        found += _too_long(spec, warming_days)
    return found


# Visits that ended without a purchase (``visits.classification``): whom a chain warms.
NOT_BOUGHT = ("type3", "type4", "grey")


def warming(spec: FlowSpec) -> bool:
    """A chain for people who came and did not buy (not for buyers too)."""
    return ("visit" in spec.triggers and "purchase" not in spec.triggers
            and any(c in NOT_BOUGHT for c in spec.visit_classes))


def _messages(spec: FlowSpec) -> list[StepSpec]:
    return [s for s in spec.steps if not s.is_call]


def _selling(spec: FlowSpec) -> Iterator[Warning]:
    """More than a third of the steps sell (a call counts: a person asking how it is
    going is the most helpful touch of all), or the first message does."""
    steps, messages = spec.steps, _messages(spec)
    selling = [s for s in steps if s.commercial]
    if steps and len(selling) / len(steps) > COMMERCIAL_SHARE:
        yield Warning("commercial_share", "", "", _(
            "%(selling)d of %(all)d steps sell: more than a third. Customers who "
            "hear mostly offers stop reading; make most of the chain helpful."
        ) % {"selling": len(selling), "all": len(steps)})
    if messages and messages[0].commercial:
        yield Warning("offer_first", messages[0].key, "", _(
            "The chain opens with an offer. Start with something helpful: an offer "
            "before any help reads as a sales push."))


def offsets(spec: FlowSpec) -> list[tuple[StepSpec, timedelta]]:
    """When each step goes, counted from entry (send times and windows left out: they
    move a step by hours, not days)."""
    at, found = timedelta(0), []
    for step in spec.steps:
        at = step.delay if step.anchor == "entry" else at + step.delay
        found.append((step, at))
    return found


def _most_within(times: list[timedelta], period: timedelta) -> int:
    return max((sum(1 for t in times if start <= t < start + period) for start in times),
               default=0)


def _cadence(spec: FlowSpec, caps: Sequence[Caps]) -> Iterator[Warning]:
    if not caps:
        return
    strict = min(caps, key=lambda c: (c.messages, c.commercial))
    sent = [(s, t) for s, t in offsets(spec) if not s.is_call]
    many = _most_within([t for _s, t in sent], strict.period)
    offers = _most_within([t for s, t in sent if s.commercial], strict.period)
    days = strict.period.days
    period = ngettext("%(days)d day", "%(days)d days", days) % {"days": days}
    if many > strict.messages:
        yield Warning("caps", "", "", _(
            "Messages within %(period)s: %(n)d, more than the cap of %(cap)d; the rest wait "
            "until the cap allows them.") % {"n": many, "period": period, "cap": strict.messages})
    if offers > strict.commercial:
        yield Warning("caps", "", "", _(
            "Offers within %(period)s: %(n)d, more than the cap of %(cap)d."
        ) % {"n": offers, "period": period, "cap": strict.commercial})


def _too_long(spec: FlowSpec, limit_days: int) -> Iterator[Warning]:
    last = max((t for _s, t in offsets(spec)), default=timedelta(0))
    if last > timedelta(days=limit_days):
        yield Warning("too_long", "", "", _(
            "This warming chain runs for %(days)d days; the business's limit is %(limit)d. "
            "Someone who did not buy should not hear from the store for longer."
        ) % {"days": math.ceil(last / timedelta(days=1)), "limit": limit_days})
