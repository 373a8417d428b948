"""A store's accounts with messaging providers, and the webhook events already applied."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from touchflow.messaging import crypto
from touchflow.messaging.providers import provider_class


class Provider(models.TextChoices):
    TELEGRAM = "telegram", "Telegram Bot API"
    VIBER = "viber", "Viber REST bot API"
    WHATSAPP = "whatsapp", "WhatsApp Business Cloud API"
    TWILIO = "twilio", "Twilio SMS"
    SMSAPI = "smsapi", "SMSAPI.pl"
    MAILGUN = "mailgun", "Mailgun (via django-anymail)"


def new_webhook_key() -> str:
    return secrets.token_urlsafe(24)


def validate_rate_limit(value: float) -> None:
    if not value > 0:
        raise ValidationError(_("Must be more than zero messages a second."))


class ChannelAccount(models.Model):
    """One store's account with one provider: what sends that store's messages on a
    channel and what receives that channel's webhooks (``/hooks/<provider>/<key>/``)."""

    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="channel_accounts",
        verbose_name=_("store"),
    )
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    channel = models.CharField(_("channel"), max_length=16, editable=False)
    # Public, non-secret identity: the bot's username, the Viber chat URI, the sender
    # phone number or e-mail address, WhatsApp's display phone number (the wa.me link
    # of the QR code is built from it; the phone number id is a credential).
    handle = models.CharField(
        _("handle"), max_length=200, blank=True,
        help_text=_("Bot username, Viber chat URI, sender number or address."),
    )
    base_url = models.URLField(
        _("API base URL"), blank=True,
        help_text=_("Leave empty for the provider's own; set it for a proxy or a test server."),
    )
    # Encrypted JSON (crypto.seal): tokens, auth tokens, app secrets, signing keys.
    sealed_credentials = models.TextField(editable=False, blank=True)
    webhook_key = models.CharField(max_length=64, unique=True, default=new_webhook_key,
                                   editable=False)
    # Messages a second this account may send, across every worker; empty: the rate
    # the provider documents (its module's ``default_rate``).
    rate_limit = models.FloatField(
        _("rate limit"), null=True, blank=True, validators=[validate_rate_limit],
        help_text=_("Messages per second; leave empty for the provider's documented rate."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "channel"]
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        constraints = [
            # One provider per channel per store: the engine must know where a message goes.
            models.UniqueConstraint(
                fields=["store", "channel"], condition=Q(enabled=True),
                name="one_enabled_account_per_store_channel",
            ),
            models.CheckConstraint(
                condition=Q(rate_limit__isnull=True) | Q(rate_limit__gt=0),
                name="channel_account_rate_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} — {self.store_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The channel is the provider module's (``channel``): one provider, one channel.
        self.channel = provider_class(Provider(self.provider)).channel
        super().save(*args, **kwargs)

    @property
    def credentials(self) -> dict[str, Any]:
        return crypto.unseal(self.sealed_credentials)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.sealed_credentials = crypto.seal(value)

    def webhook_path(self) -> str:
        return f"/hooks/{self.provider}/{self.webhook_key}/"


class InboundEvent(models.Model):
    """A webhook event already applied: providers retry, and a retry must change nothing.

    ``event_id`` is the provider's own id for the event (Telegram update_id, Viber
    message_token + event, WhatsApp message or status id + status, Twilio MessageSid +
    status, …).
    """

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=32)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "event_id"], name="inbound_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"


class NoticeState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Failed")


class Notice(models.Model):
    """A message we owe a customer outside any chain (a STOP confirmation, a welcome),
    written in the webhook's transaction and sent by the worker (``messaging.notices``).

    The webhook answers at once, whatever the provider does; a provider that refuses
    (500, 429) or stalls gets the notice again later, and a notice that never goes ends
    ``dead`` with its last error. While a worker holds it, ``due_at`` is pushed past its
    lease: a worker that dies leaves it due again when the lease runs out.
    """

    # None when the sender is unknown to us (a STOP from a chat never linked).
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", db_index=False,
    )
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    # The account that received what we answer; if it is gone or disabled, the store's
    # current account on the channel sends it.
    account = models.ForeignKey(ChannelAccount, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+", db_index=False)
    channel = models.CharField(max_length=16)
    address = models.CharField(max_length=320)
    kind = models.CharField(max_length=24)  # stop | welcome | optin_refused | …
    text = models.TextField()
    language = models.CharField(max_length=8)
    state = models.CharField(max_length=8, choices=NoticeState.choices,
                             default=NoticeState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    # One notice per inbound event and purpose: a replayed webhook queues nothing new.
    idempotency_key = models.CharField(max_length=250, unique=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="notice_due",
                         condition=Q(state="queued")),
            models.Index(fields=["customer"], name="notice_customer",
                         condition=Q(customer__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.channel} ({self.state})"
