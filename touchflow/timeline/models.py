"""One row per thing that happened to a customer, in the order it happened."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from touchflow.core.fields import JSONField


class EventKind(models.TextChoices):
    CUSTOMER_CREATED = "customer_created", _("Customer created")
    CONTACT_ADDED = "contact_added", _("Contact added")
    CONSENT = "consent", _("Consent changed")
    VISIT = "visit", _("Visit")
    PURCHASE = "purchase", _("Purchase")
    MERGED = "merged", _("Duplicate merged")
    ENROLLED = "enrolled", _("Entered a chain")
    LEFT_FLOW = "left_flow", _("Left a chain")
    TOUCH = "touch", _("Message or call")
    MESSAGE_IN = "message_in", _("Message from the customer")
    MESSAGE_OUT = "message_out", _("Reply from staff")
    BOUNCE = "bounce", _("E-mail bounced")


class TimelineEvent(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="timeline"
    )
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField()
    store = models.ForeignKey("stores.Store", on_delete=models.SET_NULL, null=True, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    visit = models.ForeignKey("visits.Visit", on_delete=models.CASCADE, null=True, blank=True)
    purchase = models.ForeignKey(
        "purchases.Purchase", on_delete=models.CASCADE, null=True, blank=True
    )
    # What a reader of the timeline needs without joining: the summary of the event.
    data = JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["customer", "at", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"
