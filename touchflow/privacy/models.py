"""The privacy log and the marks of erased customers (the hashed suppression list is
``customers.models.Suppression``).

None of these rows holds personal data: the log names a customer by id only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PrivacyAction(models.TextChoices):
    EXPORT = "export", _("Export")
    ERASE = "erase", _("Erasure")
    RETENTION = "retention", _("Retention")


class ActorKind(models.TextChoices):
    STAFF = "staff", _("Staff member")
    API = "api", _("API token")
    CLI = "cli", _("Command line")
    WORKER = "worker", _("Worker")


class AuditEntry(models.Model):
    """Who exported or erased which customer, and when; what a retention run cleared.

    ``customer_id`` is a plain number, not a foreign key: the entry must outlive any
    change to the customer row, and say nothing about the person but their id.
    ``counts`` holds numbers only (rows cleared, sections exported).
    """

    action = models.CharField(max_length=16, choices=PrivacyAction.choices)
    customer_id = models.BigIntegerField(null=True, blank=True)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    integration = models.ForeignKey(
        "integrations.ApiToken", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    at = models.DateTimeField()
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer_id", "at"]),
            models.Index(fields=["action", "at"]),
        ]
        verbose_name = _("privacy log entry")
        verbose_name_plural = _("privacy log")

    def __str__(self) -> str:
        return f"{self.action} #{self.customer_id} by {self.actor_kind} at {self.at:%Y-%m-%d %H:%M}"


class Erasure(models.Model):
    """Marks a customer row as an erased, anonymous tombstone (``customer.erasure``)."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="erasure"
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"customer {self.customer_id} erased"
