"""Dead letters grouped by why they failed, for the page a manager reads.

Twenty touches killed by one template error are one problem, not twenty rows: each
failure text is normalised (numbers, ids, addresses and links taken out) and touches
whose normalised texts agree form one group. Touches that ended ``uncertain`` (not known
whether they were sent) are a group of their own, whatever their text says.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from touchflow.delivery.models import Touch, TouchState

UNCERTAIN = "uncertain"
# What a reason may be shown as, at most (the rows behind it show the full text).
REASON_SHOWN = 300

# Order matters: links and addresses before the bare numbers inside them.
_VARIABLE_PARTS = (
    (re.compile(r"\bhttps?://\S+"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\+?\d[\d ()-]{6,}\d"), "<phone>"),
    (re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.I), "<id>"),
    # Provider message ids and tokens: long runs of letters and digits with a digit.
    (re.compile(r"\b(?=[\w-]*\d)[\w-]{16,}\b"), "<id>"),
    # Any other number, except an HTTP status (400 and 404 are different problems).
    (re.compile(r"(?<!HTTP )(?<![\d.])\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalise_reason(text: str) -> str:
    """The failure text with what differs between otherwise equal failures taken out:
    'HTTP 400: {"id": "msg-17"}' and 'HTTP 400: {"id": "msg-18"}' read the same."""
    for pattern, replacement in _VARIABLE_PARTS:
        text = pattern.sub(replacement, text)
    return text.strip()[:REASON_SHOWN]


def group_key(state: str, last_error: str) -> str:
    """A short, URL-safe name for the group a touch belongs to."""
    if state == TouchState.UNCERTAIN:
        return UNCERTAIN
    reason = normalise_reason(last_error)
    return hashlib.sha256(reason.encode()).hexdigest()[:16]


@dataclass
class Group:
    key: str
    reason: str  # normalised; "" for the uncertain group or failures with no text
    count: int
    newest: datetime | None

    @property
    def uncertain(self) -> bool:
        return self.key == UNCERTAIN


def groups(touches: QuerySet[Touch]) -> list[Group]:
    """The groups of these dead letters (and uncertain touches): the uncertain group
    first (each of them waits for a person's decision), then the newest failure first.
    One query: the database counts per exact text, the merge per normalised text is here."""
    found: dict[str, Group] = {}
    rows = (
        touches.order_by().values("state", "last_error")
        .annotate(count=Count("id"), newest=Max("finished_at"))
    )
    for row in rows:
        key = group_key(row["state"], row["last_error"])
        reason = "" if key == UNCERTAIN else normalise_reason(row["last_error"])
        group = found.setdefault(key, Group(key, reason, 0, None))
        group.count += row["count"]
        if row["newest"] is not None and (group.newest is None or row["newest"] > group.newest):
            group.newest = row["newest"]
    return sorted(
        found.values(),
        key=lambda g: (not g.uncertain, -(g.newest.timestamp() if g.newest else 0), g.key),
    )


def ids_in_group(touches: QuerySet[Touch], key: str) -> list[int]:
    """The ids of the touches in group ``key``, newest first (``touches``' order).

    The normalised text is not stored, so a failure group is found by reading the ids
    and texts of the dead letters: two narrow columns, read once per page shown."""
    if key == UNCERTAIN:
        return list(touches.filter(state=TouchState.UNCERTAIN).values_list("id", flat=True))
    return [
        pk
        for pk, state, last_error in touches.exclude(state=TouchState.UNCERTAIN)
        .values_list("id", "state", "last_error").iterator(chunk_size=2000)
        if group_key(state, last_error) == key
    ]


def group_of(touches: QuerySet[Touch], key: str) -> tuple[Group | None, list[int]]:
    """Group ``key`` (None when these touches have none in it) and its ids, newest first."""
    ids = ids_in_group(touches, key)
    if not ids:
        return None, []
    state, last_error, finished_at = (
        touches.filter(pk=ids[0]).values_list("state", "last_error", "finished_at").get()
    )
    reason = "" if key == UNCERTAIN else normalise_reason(last_error)
    return Group(key, reason, len(ids), finished_at), ids
