"""Messages we owe a customer outside any chain (a STOP confirmation, a welcome): queued
as ``Notice`` rows in the webhook's transaction, sent by the worker.

Why not send them from the webhook: a provider that stalls held the webhook's answer
for seconds (providers retry slow webhooks), and a refused send (500, 429) was lost
without a trace. Here a send is retried like any message, with the engine's backoff,
and ends ``sent`` or ``dead`` with its last error; a dead one is on the customer's
timeline.

Several workers may run ``deliver_due`` at once: each claims its notices with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer at a time) and pushes
their due time past a lease, so nobody else takes them while they are sent. A worker
that dies mid-send leaves them due again when the lease ends: a notice is sent at
least once, and at most twice in that rare case (a confirmation, never an offer).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from touchflow.core import clock
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.registry import build, parse_spec
from touchflow.delivery.retry import RetryPolicy
from touchflow.messaging import accounts
from touchflow.messaging.models import Notice, NoticeState
from touchflow.messaging.providers.base import AccountConfig
from touchflow.timeline import events

log = logging.getLogger(__name__)

# A confirmation is worth sending for a day, not the engine's full patience: 8 attempts
# from 15 s apart up to 30 min apart span about two hours.
RETRY = RetryPolicy(max_attempts=8, base=timedelta(seconds=15), cap=timedelta(minutes=30))
# Longer than a provider's timeout (10 s) times a batch's sends to one stalled provider.
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Reply:
    """A notice to queue: ``text`` to ``address`` through ``account``."""

    kind: str
    address: str
    text: str
    language: str
    customer_id: int | None = None


def stop_text(store: str, everywhere: bool, channel: str = "") -> str:
    """What a STOP means, said back to the customer in the active language: what ended,
    that no offers come on any channel, and how to come back (the counter's QR code
    gives consent again; staff can record it at a visit). ``channel``: its name, where
    "here" would not say which (a web page)."""
    if everywhere:
        done = _("Done: you will get no more messages from us on any channel.")
    elif channel:
        done = _(
            "Done: we will not write to you on %(channel)s any more, %(store)s has ended "
            "its messages to you, and you will get no offers from us on any channel."
        ) % {"store": store, "channel": channel}
    else:
        done = _(
            "Done: we will not write to you here any more, %(store)s has ended its "
            "messages to you, and you will get no offers from us on any channel."
        ) % {"store": store}
    back = _(
        "To hear from us again, scan the code at the counter of %(store)s or ask our staff."
    ) % {"store": store}
    return f"{done} {back}"


def queue(cfg: AccountConfig, reply: Reply, now: datetime, key: str = "") -> Notice | None:
    """Write the notice, due now, in the caller's transaction, to go out through the
    account ``cfg`` that received what it answers. ``key`` (the inbound event's) makes
    it once only: a key already queued queues nothing (None)."""
    return _create(cfg.store_id, cfg.id, cfg.channel, reply, now, key)


def queue_for_store(store_id: int, channel: str, reply: Reply, now: datetime,
                    key: str = "") -> Notice | None:
    """As ``queue``, for a notice nothing received: it goes out through the store's
    account for ``channel`` when it has one, else the deployment's channel of that name
    (``TOUCHFLOW_CHANNELS``)."""
    return _create(store_id, None, channel, reply, now, key)


def can_reach(store_id: int, channel: str) -> bool:
    """Whether a notice on ``channel`` could go out for this store at all."""
    return (accounts.for_store(store_id, channel) is not None
            or channel in parse_spec(settings.TOUCHFLOW_CHANNELS))


def _create(store_id: int, account_id: int | None, channel: str, reply: Reply,
            now: datetime, key: str) -> Notice | None:
    key = key or uuid.uuid4().hex
    if Notice.objects.filter(idempotency_key=key).exists():
        return None
    return Notice.objects.create(
        customer_id=reply.customer_id, store_id=store_id, account_id=account_id,
        channel=channel, address=reply.address, kind=reply.kind, text=reply.text,
        language=reply.language, due_at=now, idempotency_key=key, created_at=now,
    )


def deliver_due(now: datetime, limit: int = 100, retry: RetryPolicy = RETRY) -> int:
    """Send up to ``limit`` due notices through their store's account; how many were
    tried. Each ends sent, queued again with backoff (network trouble, 5xx, 429 with
    its Retry-After) or dead (any other refusal, or the attempts are used up)."""
    claimed = _claim(now, limit)
    for notice in claimed:
        _record(notice, _send(notice), now, retry)
    return len(claimed)


def tick(now: datetime | None = None, limit: int = 100) -> int:
    """Every due notice, batch after batch (the worker's chore before each round, and
    ``worker --once``); how many were tried. Never raises: the worker's deliveries go
    on when this fails (logged, tried again at the next tick)."""
    now = now or clock.now()
    tried = 0
    try:
        # A claimed notice is due again only after its lease, so this ends.
        while (batch := deliver_due(now, limit)) > 0:
            tried += batch
            if batch < limit:
                break
    except Exception:  # noqa: BLE001
        log.exception("delivering notices failed")
    return tried


class Chore:
    """``tick`` (or ``job``) at most once per ``every`` seconds: the worker runs its
    chores between every two steps, and a busy worker takes many steps a second."""

    def __init__(self, every: float = 1.0, job: Callable[[], int] | None = None) -> None:
        self.every = every
        self.job = job or tick
        self.last: float | None = None

    def __call__(self) -> int:
        moment = time.monotonic()
        if self.last is not None and moment - self.last < self.every:
            return 0
        self.last = moment
        return self.job()


def _claim(now: datetime, limit: int) -> list[Notice]:
    """Take due notices for this worker: their attempt is counted and their due time
    moved past the lease in the claiming transaction."""
    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(state=NoticeState.QUEUED, due_at__lte=now)
            .order_by("due_at", "id").values_list("id", flat=True)[:limit]
        )
        if not ids:  # the usual case, once a second in every worker
            return []
        Notice.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1,
                                                 due_at=now + LEASE)
    return list(Notice.objects.filter(pk__in=ids).order_by("due_at", "id"))


def _account(notice: Notice) -> AccountConfig | None:
    """The account that received what we answer, else the store's account now."""
    configs = accounts.enabled().values()
    same = next((c for c in configs if c.id == notice.account_id), None)
    return same or accounts.for_store(notice.store_id, notice.channel)


def _send(notice: Notice) -> SendResult:
    cfg = _account(notice)
    if cfg is None:
        return _send_deployment(notice)
    try:
        return accounts.provider(cfg).send_text(notice.address, notice.text)
    except Exception as exc:  # noqa: BLE001 - a broken provider module must not lose it
        log.exception("notice %s: send failed", notice.pk)
        return SendResult.retry(f"{type(exc).__name__}: {exc}")


def _send_deployment(notice: Notice) -> SendResult:
    """A store without an account for the channel: the deployment's channel of that name,
    built for this send (notices are few)."""
    url = parse_spec(settings.TOUCHFLOW_CHANNELS).get(notice.channel)
    if url is None:
        # The store may connect the channel again: waiting costs nothing.
        return SendResult.retry(f"the store has no {notice.channel} account")
    channel = build(notice.channel, url)
    message = OutgoingMessage(
        touch_id=0, idempotency_key=f"notice-{notice.pk}", channel=notice.channel,
        address=notice.address, text=notice.text, subject=_subject(notice.text),
        language=notice.language, store_id=notice.store_id,
    )
    try:
        return channel.send([message])[0]
    finally:
        channel.close()


def _subject(text: str) -> str:
    """An e-mail subject for a notice: its first sentence, short."""
    first = text.split(". ", 1)[0].strip()
    return first if len(first) <= 78 else first[:77] + "…"


def _record(notice: Notice, result: SendResult, now: datetime, retry: RetryPolicy) -> None:
    """Write the outcome and, for a final one, its timeline row, in one transaction."""
    with transaction.atomic():
        if result.ok:
            notice.state, notice.sent_at = NoticeState.SENT, now
            notice.provider_message_id = result.provider_id[:200]
            notice.last_error = ""
        elif result.transient and not retry.gives_up_after(notice.attempts):
            notice.due_at = now + retry.delay(notice.attempts, result.retry_after)
            notice.last_error = result.error[:2000]
        else:
            notice.state, notice.last_error = NoticeState.DEAD, result.error[:2000]
            log.warning("notice %s dead after %s attempts: %s", notice.pk, notice.attempts,
                        result.error)
        # Only while this worker still holds it: a lease that ran out gave it to another.
        held = Notice.objects.filter(
            pk=notice.pk, state=NoticeState.QUEUED, attempts=notice.attempts
        ).update(state=notice.state, sent_at=notice.sent_at, due_at=notice.due_at,
                 last_error=notice.last_error, provider_message_id=notice.provider_message_id)
        if not held or notice.customer_id is None:
            return
        if notice.state == NoticeState.SENT:
            events.notice_sent(notice, now)
        elif notice.state == NoticeState.DEAD:
            events.notice_dead(notice, now)
