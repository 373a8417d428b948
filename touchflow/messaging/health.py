"""``touchflow doctor``: whether this deployment can deliver, and what to do when not.

Each check returns findings (OK, WARN or FAIL, with what to do); the command prints
them and exits non-zero on a FAIL. The checks only read: nothing here changes a row,
and without ``live`` nothing leaves the machine.

Order matters: when the database cannot be reached or is not migrated, the checks
that read it are not run (they would only fail for the same reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Min

from touchflow.aftercare import escalations
from touchflow.aftercare.models import Escalation
from touchflow.core import references
from touchflow.core.errors import InvalidInput
from touchflow.core.secrets import check_secrets
from touchflow.delivery import readiness
from touchflow.delivery.channels.registry import build, parse_spec
from touchflow.delivery.metrics import QUEUE_COUNT_CAP, queue_due_now
from touchflow.delivery.models import Touch, TouchState
from touchflow.delivery.policies import NO_CHANNEL
from touchflow.delivery.segments import stranded_enrollments
from touchflow.messaging import alerts, crypto
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.outbound import from_settings
from touchflow.messaging.providers import provider_class
from touchflow.stores.models import Store


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str  # "settings", "database", "channels", "account warsaw/sms", …
    status: Status
    detail: str
    fix: str = ""


def ok(check: str, detail: str) -> Finding:
    return Finding(check, Status.OK, detail)


def warn(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.WARN, detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, detail, fix)


# A running worker claims due work every second or so: a touch due this long ago means
# the workers are behind (BEHIND), or that none is running at all (STUCK).
BEHIND = timedelta(minutes=10)
STUCK = timedelta(hours=1)
RECENT = timedelta(days=1)
# How many ids a finding lists: enough to look one up, not a screenful.
SHOWN = 10


# -- settings ------------------------------------------------------------------------

FIXES = {
    "TOUCHFLOW_SECRET_KEY": "Set TOUCHFLOW_SECRET_KEY to a long random value, e.g. "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
    "TOUCHFLOW_CREDENTIALS_KEY": "Set TOUCHFLOW_CREDENTIALS_KEY to the output of "
    "`touchflow channels new-key`.",
}


def check_settings() -> list[Finding]:
    """The secrets (decision 0009) and a credentials key that opens anything. The
    trial's public secrets FAIL, as they stop ``touchflow serve``, except in debug mode
    (a developer's machine), where they only warn."""
    found = []
    for message in check_secrets():
        trial = message.id == "touchflow.W001"
        status = Status.WARN if (not trial or settings.DEBUG) else Status.FAIL
        variable = message.msg.split(" ", 1)[0]
        found.append(Finding("settings", status, message.msg, FIXES.get(variable, "")))

    try:
        crypto.fernet()
    except InvalidInput as exc:
        found.append(fail("settings", f"TOUCHFLOW_CREDENTIALS_KEY: {exc.message}",
                          "Set it to the output of `touchflow channels new-key`."))
    if settings.DEBUG:
        found.append(warn("settings", "TOUCHFLOW_DEBUG is on: error pages show internals.",
                          "Unset TOUCHFLOW_DEBUG outside a developer's machine."))
    return found or [ok("settings", "secret key and credentials key are set")]


# -- database ------------------------------------------------------------------------


def check_database() -> list[Finding]:
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return [fail("database", f"cannot use {connection.vendor} database: {exc}",
                     "Check TOUCHFLOW_DATABASE_URL and that the database server is up.")]
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in pending[:SHOWN])
        return [fail("database", f"{len(pending)} migration(s) not applied: {names}",
                     "Run `touchflow migrate`.")]
    return [ok("database", f"{connection.vendor} reachable, every migration applied")]


# -- channels and accounts --------------------------------------------------------------


def check_channels() -> list[Finding]:
    """TOUCHFLOW_CHANNELS parses and each URL is one a channel can be built from."""
    try:
        spec = parse_spec(settings.TOUCHFLOW_CHANNELS)
        for name, url in spec.items():
            build(name, url).close()
    except ValueError as exc:
        return [fail("channels", str(exc), "Fix TOUCHFLOW_CHANNELS (README, Configuration).")]
    if not spec:
        return [ok("channels", "TOUCHFLOW_CHANNELS is empty: only stores' own accounts send")]
    return [ok("channels", f"TOUCHFLOW_CHANNELS: {', '.join(spec)}")]


def check_accounts(live: bool = False, timeout: float = 5.0) -> list[Finding]:
    """Every enabled provider account: its credentials open and hold what its provider
    needs, its API base URL is a URL; with ``live``, that URL answers."""

    accounts = ChannelAccount.objects.filter(enabled=True).select_related("store")
    found = [_account(a, live, timeout) for a in accounts.order_by("store__slug", "channel")]
    return found or [ok("accounts", "no provider account configured")]


def _account(account: Any, live: bool, timeout: float) -> Finding:

    name = f"account {account.store.slug}/{account.channel} ({account.provider})"
    add = f"touchflow channels add {account.store.slug} {account.provider}"
    redo = f"Add it again: `{add} -c KEY=VALUE …`."
    try:
        credentials = account.credentials
    except InvalidInput as exc:
        return fail(name, exc.message, "Put the key they were sealed with back into "
                    f"TOUCHFLOW_CREDENTIALS_KEY, or add the account again: `{add} -c …`.")
    provider = provider_class(account.provider)
    missing = [k for k in provider.required_credentials if not credentials.get(k)]
    if missing:
        return fail(name, f"credentials lack {', '.join(missing)}", redo)
    if provider.needs_sender and not account.handle and not any(
        credentials.get(k) for k in provider.sender_credentials
    ):
        return fail(name, "no sender: the handle is empty",
                    f"Add it again with one: `{add} --handle SENDER -c …`.")
    base_url = account.base_url or provider.default_base_url
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return fail(name, f"API base URL {base_url!r} is not an http(s) URL", redo)
    if not live:
        return ok(name, f"credentials open; API at {base_url}")
    return _reachable(name, base_url, timeout)


def _reachable(name: str, base_url: str, timeout: float) -> Finding:
    """Any HTTP answer means the API can be reached (credentials are not tried: that
    would need a call per provider, and some count them)."""

    try:
        response = httpx.get(base_url, timeout=timeout)
    except httpx.HTTPError as exc:
        return fail(name, f"API at {base_url} cannot be reached: {type(exc).__name__}: {exc}",
                    "Check the network, a proxy, or the account's base URL.")
    return ok(name, f"API at {base_url} answers (HTTP {response.status_code})")


def check_readiness() -> list[Finding]:
    """Which stores cannot send which steps of the active chains (decision 0007)."""
    try:
        channels = from_settings()
    except ValueError:
        return []  # the channels check already failed, saying why
    try:
        gaps = readiness.gaps(channels)
    except InvalidInput as exc:
        return [fail("coverage", f"accounts cannot be read: {exc.message}",
                     "See the account findings above.")]
    finally:
        for channel in channels.values():
            channel.close()
    if not gaps:
        return [ok("coverage", "every store has a channel for every step of the active chains")]
    return [warn("coverage", f"no channel configured for {gap}", readiness.HOW_TO_FIX)
            for gap in gaps]


# -- the queue and the enrollments ------------------------------------------------------


def check_queue(now: datetime) -> list[Finding]:
    queued = Touch.objects.filter(state=TouchState.QUEUED)
    due = queue_due_now(now)
    oldest = queued.filter(due_at__lte=now).aggregate(oldest=Min("due_at"))["oldest"]
    count = f"{due}" if due < QUEUE_COUNT_CAP else f"at least {due}"
    found = [_backlog(count, now - oldest if oldest else timedelta(0))]
    since = now - RECENT
    dead = Touch.objects.filter(state=TouchState.DEAD, finished_at__gte=since).count()
    uncertain = Touch.objects.filter(state=TouchState.UNCERTAIN, finished_at__gte=since).count()
    if dead or uncertain:
        found.append(warn("queue", f"last 24 h: {dead} dead letter(s), {uncertain} touch(es) "
                          "not known to be sent",
                          "Read their errors on the Dead letters page; send again from there "
                          "what should go."))
    waiting = queued.filter(reason=NO_CHANNEL).count()
    if waiting:
        found.append(warn("queue", f"{waiting} touch(es) wait for a channel (no_channel)",
                          readiness.HOW_TO_FIX))
    return found


def _backlog(count: str, age: timedelta) -> Finding:
    if count == "0":
        return ok("queue", "nothing due now")
    detail = f"{count} touch(es) due now, the oldest due {_duration(age)} ago"
    if age >= STUCK:
        return fail("queue", detail, "Is a worker running? Start `touchflow worker` (or more "
                    "of them on PostgreSQL) and read its log.")
    if age >= BEHIND:
        return warn("queue", detail, "The workers are behind: run more (PostgreSQL), or look "
                    "for slow providers in the worker's metrics.")
    return ok("queue", detail)


def _duration(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def check_enrollments() -> list[Finding]:
    stranded = stranded_enrollments()
    ids = list(stranded.values_list("pk", flat=True)[:SHOWN])
    if not ids:
        return [ok("enrollments", "every active enrollment has an open touch")]
    total = stranded.count()
    more = f" and {total - len(ids)} more" if total > len(ids) else ""
    return [fail("enrollments",
                 f"{total} active enrollment(s) have no open touch (ids "
                 f"{', '.join(map(str, ids))}{more}): nothing will send their next step or "
                 "complete them",
                 "This is a Touchflow bug: report it with these ids.")]


def check_references() -> list[Finding]:
    """The references the database does not check (decision 0006), checked here."""
    broken = references.orphans()
    if not broken:
        count = len(references.unchecked())
        return [ok("references", f"the {count} references the database does not check "
                   "all point at a row")]
    return [fail("references",
                 "; ".join(f"{o.reference}: {o.count} row(s) point at nothing (ids "
                           f"{', '.join(map(str, o.examples))})" for o in broken),
                 "Rows were deleted around Touchflow (by SQL, not through it), or this is "
                 "a Touchflow bug: report it with these ids.")]


def check_alerts() -> list[Finding]:
    """Which stores' managers would not hear of an unhappy customer (``alerts.route``)."""
    silent = []
    for store in Store.objects.order_by("name"):
        manager = escalations.manager_of(store)
        probe = Escalation(store=store, assignee=manager)
        if manager is None or alerts.route(probe) is None:
            silent.append(store.name)
    if not silent:
        return [ok("alerts", "every store's manager is told about unhappy customers")]
    return [warn("alerts",
                 f"{', '.join(silent)}: no manager would be told about an unhappy customer "
                 "(escalations still show on /escalations/)",
                 "Give the store a manager with an e-mail address and connect an e-mail "
                 "account (or a Telegram account and the manager's Telegram chat id).")]


# -- all of them ---------------------------------------------------------------------------


def run(now: datetime, *, live: bool = False) -> Iterator[Finding]:
    """Every check, in order; those that need the database only when it is usable."""
    yield from check_settings()
    yield from check_channels()
    database = check_database()
    yield from database
    if any(f.status is Status.FAIL for f in database):
        return
    checks: list[Callable[[], list[Finding]]] = [
        lambda: check_accounts(live),
        check_readiness,
        lambda: check_queue(now),
        check_enrollments,
        check_references,
        check_alerts,
    ]
    for check in checks:
        yield from check()
