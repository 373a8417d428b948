"""Login throttling: too many failed sign-ins for a username or an address lock it out.

Failures are rows of ``stores.LoginFailure`` (one per key: the username and the client
address, each hashed), so every web process on every machine — gunicorn's workers,
several servers behind a balancer — counts the same failures, on SQLite and on
PostgreSQL alike. While a key holds ``limit`` failures inside the window, sign-in is
refused for it, whatever the password; the lock lifts as the oldest of those failures
leaves the window. Refused attempts are not counted, so a locked-out person waits at
most one window.

An attempt is counted *before* the password is checked and uncounted if it was right
(``begin`` / ``succeeded``): each attempt sees only the attempts that started before it
(lower ids), so attempts sent at the same moment to different processes cannot all
pass the check before any of them is recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.http import HttpRequest

from touchflow.core import clock
from touchflow.stores.models import LoginFailure

WINDOW = timedelta(minutes=15)
USERNAME_LIMIT = 5
# Staff of one shop usually share one address (the shop's Wi-Fi), so the address
# limit is looser than the per-username one.
ADDRESS_LIMIT = 20


@dataclass(frozen=True)
class _Key:
    digest: str
    limit: int
    is_username: bool


@dataclass
class Attempt:
    """One sign-in attempt, counted as a failure until ``succeeded`` says otherwise."""

    username: str
    locked_for: timedelta | None = None
    rows: list[int] = field(default_factory=list)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _keys(username: str, address: str) -> list[_Key]:
    # Case-folded, so "Sam" and "sam" share one counter.
    keys = [_Key(_digest(f"addr:{address}"), ADDRESS_LIMIT, False)]
    if username.strip():
        keys.append(_Key(_digest(f"user:{username.strip().casefold()}"), USERNAME_LIMIT, True))
    return keys


def client_address(request: HttpRequest) -> str:
    """The peer address. X-Forwarded-For is not trusted: anyone can send it."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _wait(key: _Key, before_id: int, now: datetime) -> float:
    """Seconds this key stays locked, counting only the failures recorded before ``before_id``."""
    stamps = list(
        LoginFailure.objects.filter(key=key.digest, at__gt=now - WINDOW, pk__lt=before_id)
        .order_by("-at")
        .values_list("at", flat=True)[: key.limit]
    )
    if len(stamps) < key.limit:
        return 0.0
    # Locked until enough failures age out to leave fewer than the limit.
    return (stamps[-1] + WINDOW - now).total_seconds()


def begin(username: str, address: str) -> Attempt:
    """Count an attempt as a failure and say whether it may check the password at all.

    A locked attempt is uncounted at once and carries how long the lock lasts.
    """
    now = clock.now()
    LoginFailure.objects.filter(at__lte=now - WINDOW).delete()
    keys = _keys(username, address)
    rows = [LoginFailure.objects.create(key=key.digest, at=now) for key in keys]
    attempt = Attempt(username=username, rows=[row.pk for row in rows])
    longest = max(_wait(key, row.pk, now) for key, row in zip(keys, rows, strict=True))
    if longest > 0:
        _forget(attempt)
        attempt.locked_for = timedelta(seconds=longest)
    return attempt


def _forget(attempt: Attempt) -> None:
    LoginFailure.objects.filter(pk__in=attempt.rows).delete()
    attempt.rows = []


def not_checked(attempt: Attempt) -> None:
    """The form never got to check a password (a field was empty): nothing to count."""
    _forget(attempt)


def succeeded(attempt: Attempt) -> None:
    """A correct password clears the username's failures (not the address's: it is shared)."""
    _forget(attempt)
    for key in _keys(attempt.username, ""):
        if key.is_username:
            LoginFailure.objects.filter(key=key.digest).delete()
