"""Provider modules by name. Imported on first use: a deployment that never talks to
Twilio never imports its library."""

from __future__ import annotations

from importlib import import_module

from touchflow.messaging.providers.base import AccountConfig, Provider

MODULES = {
    "telegram": "touchflow.messaging.providers.telegram:TelegramProvider",
    "viber": "touchflow.messaging.providers.viber:ViberProvider",
    "whatsapp": "touchflow.messaging.providers.whatsapp:WhatsAppProvider",
    "twilio": "touchflow.messaging.providers.twilio:TwilioProvider",
    "smsapi": "touchflow.messaging.providers.smsapi:SmsapiProvider",
    "mailgun": "touchflow.messaging.providers.mailgun:MailgunProvider",
}


def provider_class(name: str) -> type[Provider]:
    module, _sep, attr = MODULES[name].partition(":")
    cls: type[Provider] = getattr(import_module(module), attr)
    return cls


def build(account: AccountConfig, *, reuse: bool = True) -> Provider:
    return provider_class(account.provider)(account, reuse=reuse)


def rate(account: AccountConfig) -> float:
    """Messages a second for ``account``: its own limit, else its provider's default."""
    if account.rate_limit is not None:
        return account.rate_limit
    return provider_class(account.provider).default_rate


def honours_idempotency_key(account: AccountConfig) -> bool:
    return provider_class(account.provider).honours_idempotency_key
