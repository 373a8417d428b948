"""Chains (flows), their steps, and the customers enrolled in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from touchflow.flows.spec import default_text

# Texts by language: none given (a row written before there were any, too).
_NO_TEXTS = models.Value({}, models.JSONField())


class FlowStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Flow(models.Model):
    """A chain of touches. Its source of truth is a YAML file; this row mirrors it."""

    slug = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=FlowStatus.choices, default=FlowStatus.DRAFT
    )
    triggers = models.JSONField(default=list)
    visit_classes = models.JSONField(default=list)
    categories = models.JSONField(default=list)
    exit_on = models.JSONField(default=list)
    # The name and description by language as the chain gives them ({"pl": …}; "" for
    # one text in every language); ``name`` and ``description`` hold the default.
    names = models.JSONField(default=dict, blank=True, db_default=_NO_TEXTS)
    descriptions = models.JSONField(default=dict, blank=True, db_default=_NO_TEXTS)
    source_path = models.CharField(max_length=500, blank=True)
    source_text = models.TextField(blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("chain")
        verbose_name_plural = _("chains")

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """The name in the language of the page being made."""
        return _in_language(self.names, self.name)

    @property
    def about(self) -> str:
        return _in_language(self.descriptions, self.description)


def _in_language(texts: dict[str, str], default: str) -> str:
    language = (get_language() or "en")[:2]
    return texts.get(language) or texts.get("") or default


class FlowStep(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=64)
    kind = models.CharField(max_length=24)
    commercial = models.BooleanField(default=False)
    delay_seconds = models.PositiveIntegerField()
    anchor = models.CharField(max_length=8, default="previous")
    send_at = models.TimeField(null=True, blank=True)
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    channels = models.JSONField(default=list)
    # {"en": {"subject": "...", "text": "..."}, ...}; for call steps the call script.
    messages = models.JSONField(default=dict)
    expires_seconds = models.PositiveIntegerField()
    when_capped = models.CharField(max_length=8, default="defer")
    assignee = models.CharField(max_length=8, default="seller")
    # A check-in's answers (``flows.answers``: "scale", "yes_no"); "" asks nothing.
    answers = models.CharField(max_length=8, blank=True, default="", db_default="")
    # The step's title by language ("" for one title in every language); none: its key.
    titles = models.JSONField(default=dict, blank=True, db_default=_NO_TEXTS)
    # A step removed from the file stays (touches refer to it) but is never scheduled.
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["flow", "position"]
        constraints = [models.UniqueConstraint(fields=["flow", "key"], name="flow_step_key_unique")]

    def __str__(self) -> str:
        return f"{self.flow_id}/{self.key}"

    @property
    def title(self) -> str:
        """The title in the page's language, else English, else any, else the key."""
        return _in_language(self.titles, default_text(self.titles) or self.key)


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", _("In the chain")
    COMPLETED = "completed", _("Completed")
    EXITED = "exited", _("Left the chain")


class Enrollment(models.Model):
    """One customer's passage through one chain.

    Segments of a million customers are enrolled at once, so each row carries only the
    indexes a query needs: the customer's enrollments by (customer, state), the active
    one per chain by the partial unique key, and the optional references where set.
    No reference is checked by the database per row (decision 0006): a check reads the
    parent row FOR KEY SHARE, a million times when a segment enters a chain; Django
    cascades the rare deletions, and enrollments are written only by
    ``delivery.enrollments`` and ``delivery.segments`` from rows they have just read.
    """

    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, related_name="enrollments", db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="enrollments",
        db_index=False, db_constraint=False,
    )
    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    purchase = models.ForeignKey(
        "purchases.Purchase", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )
    state = models.CharField(
        max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    entered_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            # Never in the same chain twice at the same time.
            models.UniqueConstraint(
                fields=["flow", "customer"],
                condition=Q(state="active"),
                name="enrollment_one_active_per_flow",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "state"]),
            models.Index(fields=["flow"], name="enrollment_flow_ended",
                         condition=~Q(state="active")),
            models.Index(fields=["staff"], name="enrollment_staff",
                         condition=Q(staff__isnull=False)),
            models.Index(fields=["visit"], name="enrollment_visit",
                         condition=Q(visit__isnull=False)),
            models.Index(fields=["purchase"], name="enrollment_purchase",
                         condition=Q(purchase__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.flow_id} ({self.state})"


class FlowVersion(models.Model):
    """One saved text of a chain: every save in the editor and every file loaded that
    changed it. The chain runs the version it was last activated at (``Flow.version``);
    a later one is a draft until activated."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    # "editor", or the file it was loaded from.
    source = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flow_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.number}"


class FlowActivation(models.Model):
    """A chain activated at a version, by whom, and the warnings they acknowledged
    (the tone and chain checks open at that moment): the chain's history."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="activations")
    version = models.ForeignKey(FlowVersion, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    # [{"check": "tone", "where": "step 'offer', pl", "message": "…"}, …]
    acknowledged = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["flow", "-at"]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.version_id} at {self.at:%Y-%m-%d %H:%M}"
