"""What a customer answered to a check-in (seed 003: the sale does not end at the till)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Mood(models.TextChoices):
    HAPPY = "happy", _("Happy")
    NEUTRAL = "neutral", _("Neutral")
    UNHAPPY = "unhappy", _("Unhappy")


class CheckInAnswer(models.Model):
    """One check-in touch's answer: one row per touch, whichever way it came (a button,
    a reply, the rating page); answering again changes it, never adds a second."""

    touch = models.OneToOneField("delivery.Touch", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="check_in_answers"
    )
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="+")
    # Who served the customer, and what the check-in asked about: the enrollment's.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    purchase = models.ForeignKey(
        "purchases.Purchase", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8)  # flows.answers.SCALE or YES_NO
    # 1–5 on a scale, 1 yes / 0 no; NULL: a worded answer to a scale ("всё хорошо").
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    mood = models.CharField(max_length=8, choices=Mood.choices)
    via = models.CharField(max_length=16)  # the channel it came on, or "page"
    text = models.CharField(max_length=500, blank=True)  # the reply as written
    answered_at = models.DateTimeField()
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["store", "answered_at"], name="answer_store_at")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__isnull=True) | models.Q(value__lte=5),
                name="answer_value_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} ({self.mood})"


class EscalationReason(models.TextChoices):
    RATING = "rating", _("Low rating")
    NO = "no", _("Answered no")
    COMPLAINT = "complaint", _("Complaint in a reply")


class Resolution(models.TextChoices):
    CALLED = "called", _("Called, all sorted")
    FIXED = "fixed", _("Fixed or repaired")
    REPLACED = "replaced", _("Replaced")
    REFUNDED = "refunded", _("Refunded")
    NO_ANSWER = "no_answer", _("Customer did not answer")
    NOT_A_PROBLEM = "not_a_problem", _("Not a problem after all")


class Escalation(models.Model):
    """An unhappy customer a person must reach before they write a bad review: a task
    for the store's manager, due within the store's response time in opening hours."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="escalations"
    )
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="+")
    # The check-in it came from (one escalation per check-in) and its answer, if any (a
    # complaint in a reply has none).
    touch = models.OneToOneField("delivery.Touch", on_delete=models.CASCADE, related_name="+")
    answer = models.ForeignKey(
        CheckInAnswer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=12, choices=EscalationReason.choices)
    text = models.CharField(max_length=500, blank=True)  # what the customer wrote
    # What it is about and who sold it (the check-in's enrollment).
    purchase = models.ForeignKey(
        "purchases.Purchase", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="escalations",
    )
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    # When the manager was told (messaging.alerts queued the notice); NULL: not yet.
    alerted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["store", "due_at"], name="escalation_open_due",
                         condition=models.Q(resolved_at__isnull=True)),
            models.Index(fields=["store", "opened_at"], name="escalation_store_opened"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True, resolution="")
                | (models.Q(resolved_at__isnull=False) & ~models.Q(resolution="")),
                name="escalation_resolved_with_resolution",
            ),
        ]

    def __str__(self) -> str:
        return f"escalation {self.pk} ({self.reason})"
