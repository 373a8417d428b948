"""Which channel names this deployment can send on, and through what.

``TOUCHFLOW_CHANNELS`` lists them, e.g.
``email=smtp://127.0.0.1:1025;sms=http://127.0.0.1:9000/sms;telegram=null:``.
A channel that is not listed is not usable, and steps fall back past it. An http(s)
URL may end in ``?timeout=SECONDS`` (how long one request may take; default 10) and
``&keys=off`` (the receiver does not drop a repeated idempotency key) and ``&rate=N``
(at most N messages a second across every worker; default no limit), e.g.
``sms=https://gateway.example/sms?timeout=5&rate=30``.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from touchflow.core.channels import NAMES
from touchflow.delivery.channels.base import Channel
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.channels.outbox import OutboxChannel
from touchflow.delivery.channels.smtp import SmtpChannel
from touchflow.delivery.channels.webhook import WebhookChannel


def parse_spec(spec: str) -> dict[str, str]:
    """``name=url;name=url`` → {name: url}; raises ValueError naming a bad entry."""
    result: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.replace("\n", ";").split(";"))):
        name, sep, url = entry.partition("=")
        name = name.strip()
        if not sep or name not in NAMES:
            raise ValueError(
                f"TOUCHFLOW_CHANNELS: {entry!r} must be NAME=URL, NAME one of {', '.join(NAMES)}"
            )
        result[name] = url.strip()
    return result


def build(name: str, url: str) -> Channel:
    if url.startswith("null:"):
        return NullChannel(name)
    if url.startswith("outbox:"):
        return OutboxChannel(name, url.removeprefix("outbox:") or "var/outbox")
    if url.startswith(("smtp://", "smtps://")):
        return SmtpChannel(name, url, sender=settings.TOUCHFLOW_EMAIL_FROM)
    if url.startswith(("http://", "https://")):
        url, timeout = _pop_number(url, "timeout", "seconds")
        url, rate = _pop_number(url, "rate", "messages a second")
        url, keys = _pop_keys(url)
        channel = WebhookChannel(name, url, 10.0 if timeout is None else timeout, rate=rate)
        channel.honours_idempotency_key = keys
        return channel
    raise ValueError(f"TOUCHFLOW_CHANNELS: {name}: unsupported URL {url!r}")


def _pop_keys(url: str) -> tuple[str, bool]:
    """``http://host/path?keys=off``: the receiving system does not drop a repeated
    ``Idempotency-Key``, so a send whose answer was lost is never repeated (it ends
    "uncertain"). Default: it does."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    values = [v for k, v in query if k == "keys"]
    if not values:
        return url, True
    if values[-1] not in ("on", "off"):
        raise ValueError(f"TOUCHFLOW_CHANNELS: keys={values[-1]!r} must be on or off")
    rest = [(k, v) for k, v in query if k != "keys"]
    return urlunsplit(parts._replace(query=urlencode(rest))), values[-1] == "on"


def _pop_number(url: str, field: str, unit: str) -> tuple[str, float | None]:
    """``http://host/path?timeout=0.5`` → the URL without ``field``, and 0.5."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    rest = [(k, v) for k, v in query if k != field]
    values = [v for k, v in query if k == field]
    if not values:
        return url, None
    try:
        number = float(values[-1])
    except ValueError as exc:
        raise ValueError(f"TOUCHFLOW_CHANNELS: {field}={values[-1]!r} is not {unit}") from exc
    if not 0 < number < math.inf:  # also refuses nan
        raise ValueError(f"TOUCHFLOW_CHANNELS: {field} must be more than zero {unit}")
    return urlunsplit(parts._replace(query=urlencode(rest))), number


def configured(spec: str | None = None) -> dict[str, Channel]:
    """The channels ``spec`` lists (default: TOUCHFLOW_CHANNELS), each as its URL says,
    without the stores' own provider accounts (``messaging.outbound.from_settings``
    routes every channel through those)."""
    text = settings.TOUCHFLOW_CHANNELS if spec is None else spec
    return {name: build(name, url) for name, url in parse_spec(text).items()}
