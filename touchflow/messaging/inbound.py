"""What a provider's webhook means, decided once for every provider.

Each item is applied in its own transaction, at most once (``InboundEvent`` remembers
the provider's event id). Messages we answer with (a welcome, a STOP confirmation)
are queued as notices in that transaction and sent by the worker
(``messaging.notices``): the webhook's answer never waits for a provider.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from touchflow.aftercare import actions as check_ins
from touchflow.core import channels, clock
from touchflow.core.contacts import normalize_email, normalize_phone
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import resolve
from touchflow.customers.models import ContactPoint
from touchflow.delivery import credit, transitions
from touchflow.delivery.models import Touch, TouchState
from touchflow.funnel import optin
from touchflow.funnel.optout import opt_out
from touchflow.messaging import accounts, notices
from touchflow.messaging.models import InboundEvent
from touchflow.messaging.providers.base import (
    QUICK_STOP,
    AccountConfig,
    Bounce,
    Complaint,
    Inbound,
    Receipt,
    Start,
    Text,
    Unsubscribed,
)
from touchflow.messaging.stopwords import stop_request
from touchflow.stores.models import Store
from touchflow.timeline import events

# What an opt-in code typed into a chat looks like (secrets.token_urlsafe): a plain
# "hello" from a stranger is not mistaken for an expired code.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

RECEIPT_RANK = {"": 0, "failed": 1, "delivered": 2, "read": 3}


@dataclass
class Applied:
    """What a webhook call did, for the response and for tests."""

    applied: int = 0
    duplicates: int = 0
    outcomes: list[str] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (address, text) queued


def address_value(channel: str, address: str) -> str:
    """The stored form of an address a provider reports."""
    form = channels.get(channel).address
    if form == "phone":
        digits = address.strip()
        return normalize_phone(digits if digits.startswith("+") else "+" + digits)
    if form == "email":
        return normalize_email(address)
    return address.strip()


def find_point(channel: str, address: str) -> ContactPoint | None:
    try:
        value = address_value(channel, address)
    except InvalidInput:
        return None
    traits = channels.get(channel)
    return (
        ContactPoint.objects.select_related("customer")
        .filter(kind=traits.contact, network=traits.network, value=value)
        .first()
    )


def apply(cfg: AccountConfig, items: Sequence[Inbound], now: datetime | None = None) -> Applied:
    now = now or clock.now()
    result = Applied()
    for item in items:
        with transaction.atomic():
            if item.event_id and not _first_time(cfg, item, now):
                result.duplicates += 1
                continue
            result.outcomes.append(_apply_one(cfg, item, now, result))
            result.applied += 1
    return result


def _first_time(cfg: AccountConfig, item: Inbound, now: datetime) -> bool:
    """Remember the event; False when it was seen before. One statement, no savepoint:
    this runs for every webhook a provider sends."""
    table = InboundEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, event_id, kind, received_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (account_id, event_id) DO NOTHING RETURNING id",
            [cfg.id, item.event_id[:200], type(item).__name__.lower(),
             connection.ops.adapt_datetimefield_value(now)],
        )
        return cursor.fetchone() is not None


def _apply_one(cfg: AccountConfig, item: Inbound, now: datetime, result: Applied) -> str:
    if isinstance(item, Start):
        return _start(cfg, item, now, result)
    if isinstance(item, Text):
        return _text(cfg, item, now, result)
    if isinstance(item, Unsubscribed):
        point = find_point(cfg.channel, item.address)
        if point is None:
            return "unknown_sender"
        # No confirmation: a chat that blocked the bot cannot be written to.
        stop(cfg, point, "unsubscribed", everywhere=False, at=now)
        return "unsubscribed"
    if isinstance(item, Receipt):
        return receipt(cfg.channel, item, now)
    if isinstance(item, Bounce):
        return _bounce(cfg, item, now)
    if isinstance(item, Complaint):
        point = find_point("email", item.address)
        if point is None:
            return "unknown_sender"
        # No confirmation: mail to someone who called ours spam is more of the same.
        stop(cfg, point, "complaint", everywhere=False, at=now)
        return "complaint"
    raise TypeError(f"unknown inbound item {item!r}")


def _store(cfg: AccountConfig) -> Store:
    return Store.objects.get(pk=cfg.store_id)


def _say(cfg: AccountConfig, item: Inbound, now: datetime, result: Applied, address: str,
         text: str, *, kind: str, language: str, customer_id: int | None = None) -> None:
    """Queue ``text`` (in ``language``) as a notice, sent by the worker; or, where the
    provider takes the answer in the webhook's response (Viber's welcome), hand it over:
    nothing goes over the network while the webhook waits."""
    result.replies.append((address, text))
    live = accounts.provider(cfg)
    if live.answers_in_response(address):
        live.send_text(address, text)
        return
    key = f"{cfg.id}:{item.event_id}" if item.event_id else ""
    reply = notices.Reply(kind, address, text, language, customer_id)
    notices.queue(cfg, reply, now, key=key[:250])


def _start(cfg: AccountConfig, item: Start, now: datetime, result: Applied) -> str:
    store = _store(cfg)
    traits = channels.get(cfg.channel)
    try:
        address = address_value(cfg.channel, item.address)
    except InvalidInput:
        return "bad_address"
    if not item.token:
        _touch_point(cfg.channel, item.address, now)
        point = find_point(cfg.channel, item.address)
        language = point.customer.language if point else store.language
        with translation.override(language):
            text = (_("Welcome back! Write STOP at any time to stop our messages.") if point
                    else _("Hello! To get messages from %(store)s, scan the code at the counter.")
                    % {"store": store.name})
        _say(cfg, item, now, result, item.address, text, kind="welcome", language=language,
             customer_id=point.customer_id if point else None)
        return "start_without_token"
    redeemed = optin.redeem(item.token, traits.contact, address, store_id=cfg.store_id,
                            name=item.name, network=traits.network, at=now)
    _touch_point(cfg.channel, item.address, now)  # they just wrote: the window is open
    language = redeemed.customer.language if redeemed.customer else store.language
    with translation.override(language):
        if redeemed.ok:
            text = _(
                "Thank you! You will get messages from %(store)s here. "
                "Write STOP at any time to stop them."
            ) % {"store": store.name}
        else:
            text = _(
                "Sorry, this code has expired or was already used. "
                "Ask at the counter for a new one."
            )
    _say(cfg, item, now, result, item.address, text,
         kind="welcome" if redeemed.ok else "optin_refused", language=language,
         customer_id=redeemed.customer.pk if redeemed.customer else None)
    return "linked" if redeemed.ok else f"token_{redeemed.reason}"


def _text(cfg: AccountConfig, item: Text, now: datetime, result: Applied) -> str:
    is_stop, everywhere = stop_request(item.text)
    if item.text == QUICK_STOP:
        is_stop = True
    if not is_stop:
        # The common case, a reply, in three statements: note when the customer last
        # wrote (it opens WhatsApp's 24-hour window), find the message it answers
        # (``delivery.credit``) and put the reply on the timeline.
        customer_id = _touch_point(cfg.channel, item.address, item.at or now)
        if customer_id is not None and check_ins.answer_reply(
            customer_id, cfg.store_id, cfg.channel, item.text, min(item.at or now, now)
        ):
            return "answer"  # to a check-in: on the timeline as its answer
        if customer_id is not None:
            at = item.at or now
            events.message_received(
                customer_id, at, store_id=cfg.store_id, channel=cfg.channel,
                text=item.text, sender=address_value(cfg.channel, item.address),
                credit=credit.last_touch(cfg.store_id, customer_id, at, credit.ANSWER_WINDOW),
            )
            return "reply"
    point = find_point(cfg.channel, item.address)
    if point is None:
        code = item.text.strip().removeprefix("START").removeprefix("start").strip()
        if channels.get(cfg.channel).typed_optin_code and TOKEN_SHAPE.match(code):
            return _start(cfg, Start(item.event_id, item.address, code, item.name), now, result)
        if is_stop:
            language = _store(cfg).language
            with translation.override(language):
                _say(cfg, item, now, result, item.address,
                     _("You will not get messages from us."), kind="stop", language=language)
        return "unknown_sender"
    customer = resolve(point.customer)
    # Never later than the STOP itself: a reply route opens only for what they write
    # after it (messaging.replies).
    ContactPoint.objects.filter(pk=point.pk).update(last_inbound_at=min(item.at or now, now))
    how = "button" if item.text == QUICK_STOP else "text"
    stop(cfg, point, how, everywhere=everywhere, at=now, text=item.text)
    with translation.override(customer.language):
        text = notices.stop_text(_store(cfg).name, everywhere)
        _say(cfg, item, now, result, item.address, text, kind="stop",
             language=customer.language, customer_id=customer.pk)
    return "stop_all" if everywhere else "stop"


def _touch_point(channel: str, address: str, at: datetime) -> int | None:
    """Set the contact point's last_inbound_at; its customer's id, None if unknown.
    (Contact points move to the survivor when customers merge: the id is live.)"""
    try:
        value = address_value(channel, address)
    except InvalidInput:
        return None
    traits = channels.get(channel)
    table = ContactPoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_inbound_at = %s "
            "WHERE kind = %s AND network = %s AND value = %s RETURNING customer_id",
            [connection.ops.adapt_datetimefield_value(at), traits.contact, traits.network,
             value],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def stop(cfg: AccountConfig, point: ContactPoint, how: str, *, everywhere: bool,
         at: datetime, text: str = "") -> None:
    """The customer's STOP through the store's account ``cfg`` (what it means:
    ``funnel.optout``). Touches a worker holds at this instant are caught by its
    check right before sending (consent and the enrollment are re-read there)."""
    opt_out(point.customer_id, cfg.channel, everywhere, at=at, store_id=cfg.store_id,
            how=how, text=text)


def receipt(channel: str, item: Receipt, now: datetime) -> str:
    """Move the touch's receipt forward (never back: 'read' is not undone by a late
    'delivered'); a permanent failure sends the step again on its next channel."""
    touch = (
        Touch.objects.select_for_update()
        .filter(provider_message_id=item.provider_message_id, channel=channel)
        .first()
    )
    if touch is None:
        return "unknown_message"
    if RECEIPT_RANK[item.status] <= RECEIPT_RANK[touch.receipt]:
        return "stale_receipt"
    touch.receipt = item.status
    touch.receipt_at = now
    fields = ["receipt", "receipt_at"]
    outcome = item.status
    if item.status == "failed" and touch.state == TouchState.SENT:
        touch.last_error = item.error[:2000]
        fields.append("last_error")
        if item.permanent:
            fields += transitions.fall_back_after_receipt(touch, channel, now)
            outcome = "fallback"
    touch.save(update_fields=fields)
    events.receipt(touch, now, outcome, channel, item.error)
    return outcome


def _bounce(cfg: AccountConfig, item: Bounce, now: datetime) -> str:
    point = find_point("email", item.address)
    if point is None:
        return "unknown_sender"
    if item.hard:
        ContactPoint.objects.filter(pk=point.pk).update(
            undeliverable_at=now, undeliverable_reason=item.error[:300] or "hard bounce"
        )
    events.bounced(point.customer_id, now, store_id=cfg.store_id, contact=point.value,
                   hard=item.hard, error=item.error)
    return "hard_bounce" if item.hard else "soft_bounce"

