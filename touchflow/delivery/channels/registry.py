"""Which channel names this deployment can send on, and through what.

``TOUCHFLOW_CHANNELS`` lists them, e.g.
``email=smtp://127.0.0.1:1025;sms=http://127.0.0.1:9000/sms;telegram=null:``.
A channel that is not listed is not usable, and steps fall back past it.
"""

from __future__ import annotations

from django.conf import settings

from touchflow.delivery.channels.base import Channel
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.channels.smtp import SmtpChannel
from touchflow.delivery.channels.webhook import WebhookChannel

KNOWN = ("telegram", "viber", "whatsapp", "sms", "email")


def parse_spec(spec: str) -> dict[str, str]:
    """``name=url;name=url`` → {name: url}; raises ValueError naming a bad entry."""
    result: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.replace("\n", ";").split(";"))):
        name, sep, url = entry.partition("=")
        name = name.strip()
        if not sep or name not in KNOWN:
            raise ValueError(
                f"TOUCHFLOW_CHANNELS: {entry!r} must be NAME=URL, "
                f"NAME one of {', '.join(KNOWN)}"
            )
        result[name] = url.strip()
    return result


def build(name: str, url: str) -> Channel:
    if url.startswith("null:"):
        return NullChannel(name)
    if url.startswith(("smtp://", "smtps://")):
        return SmtpChannel(name, url, sender=settings.TOUCHFLOW_EMAIL_FROM)
    if url.startswith(("http://", "https://")):
        return WebhookChannel(name, url)
    raise ValueError(f"TOUCHFLOW_CHANNELS: {name}: unsupported URL {url!r}")


def from_settings(spec: str | None = None) -> dict[str, Channel]:
    text = settings.TOUCHFLOW_CHANNELS if spec is None else spec
    return {name: build(name, url) for name, url in parse_spec(text).items()}
