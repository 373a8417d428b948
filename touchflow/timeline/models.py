"""One row per thing that happened to a customer, in the order it happened."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    CHECK_IN_ANSWER = "check_in_answer", _("Check-in answered")
    ESCALATION_OPENED = "escalation_opened", _("Escalated to a manager")
    ESCALATION_RESOLVED = "escalation_resolved", _("Escalation resolved")
    REFERRAL_MADE = "referral_made", _("Brought someone")
    REFERRED = "referred", _("Came with a referral code")
    REVIEW_CLICK = "review_click", _("Opened the review link")


class TimelineEvent(models.Model):
    # The busiest insert of all (every visit, purchase, message and attempt): only the
    # indexes a query needs. (customer, at, id) serves the customer's timeline and
    # deletes by customer; the other references are indexed only where they are set
    # (cascades from a deleted visit or purchase, a deleted staff member); a deleted
    # store (SET_NULL) is rare enough to scan for.
    # An append-only log written by every action, a row per touch and per enrollment:
    # no database constraint checks the customer (the check share-locks the customer's
    # row for every row written — a million of them when a segment enters a chain).
    # Rows are written in the transaction of the change they record, and Django
    # cascades a customer's deletion to them.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="timeline", db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField()
    # Every row of every store would share-lock its store row on insert; Django's
    # SET_NULL on a store's deletion needs no database constraint.
    store = models.ForeignKey(
        "stores.Store", on_delete=models.SET_NULL, null=True, blank=True, db_index=False,
        db_constraint=False,
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False,
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.CASCADE, null=True, blank=True, db_index=False
    )
    purchase = models.ForeignKey(  # unchecked like the customer (decision 0006)
        "purchases.Purchase", on_delete=models.CASCADE, null=True, blank=True, db_index=False,
        db_constraint=False,
    )
    # What a reader of the timeline needs without joining: the summary of the event.
    data = JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["customer", "at", "id"]),
            models.Index(fields=["staff"], name="timeline_staff",
                         condition=Q(staff__isnull=False)),
            models.Index(fields=["visit"], name="timeline_visit",
                         condition=Q(visit__isnull=False)),
            models.Index(fields=["purchase"], name="timeline_purchase",
                         condition=Q(purchase__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


# -- figures: the timeline folded into counts per store, seller and day (decision 0025) --


class FigureFields(models.Model):
    """What a figure counts: ``metric`` (visit, touch, purchase, …) and up to four keys
    whose meaning the metric gives (``timeline.figures``), on the store's local day, for
    a store and a member of staff (0: none). Plain ids, no references: a figure outlives
    nothing and locks nothing."""

    day = models.DateField()
    store_id = models.IntegerField()
    staff_id = models.IntegerField(default=0)
    metric = models.CharField(max_length=24)
    k1 = models.CharField(max_length=64, default="")
    k2 = models.CharField(max_length=64, default="")
    k3 = models.CharField(max_length=64, default="")
    k4 = models.CharField(max_length=64, default="")
    n = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        abstract = True


def _figure_key(name: str) -> models.UniqueConstraint:
    """One row per store, metric, day, member of staff and keys: what a fold's upsert
    adds into (``ON CONFLICT`` names these columns)."""
    return models.UniqueConstraint(
        fields=["store_id", "metric", "day", "staff_id", "k1", "k2", "k3", "k4"], name=name)


class Figure(FigureFields):
    """The folded counts: one row per day, store, staff, metric and keys."""

    class Meta:
        constraints = [_figure_key("figure_key")]

    def __str__(self) -> str:
        return f"{self.metric} {self.day} store {self.store_id}: {self.n}"


class FigureYear(FigureFields):
    """The same counts a year at a time (``day``: January 1st), kept by the same
    ``fold``: three years of a store are three rows a key, not thirty-six (decision
    0030)."""

    class Meta:
        constraints = [_figure_key("figure_year_key")]

    def __str__(self) -> str:
        return f"{self.metric} {self.day:%Y} store {self.store_id}: {self.n}"


class FigureMonth(FigureFields):
    """The same counts a month at a time (``day``: the month's first day), kept by the
    same ``fold``: a period's whole months are read from here, its edges from ``Figure``
    — a year is twelve rows a key rather than 365 (decision 0029)."""

    class Meta:
        constraints = [_figure_key("figure_month_key")]

    def __str__(self) -> str:
        return f"{self.metric} {self.day:%Y-%m} store {self.store_id}: {self.n}"


class FigureWeek(FigureFields):
    """The same counts a week at a time (``day``: the week's Monday), kept by the same
    ``fold``: the whole weeks of a period outside its whole months — 28 days of twenty
    stores' visits are 142k day rows, three weeks and seven days about 60k."""

    class Meta:
        constraints = [_figure_key("figure_week_key")]

    def __str__(self) -> str:
        return f"{self.metric} week of {self.day} store {self.store_id}: {self.n}"


class FigureDelta(FigureFields):
    """Counts written with the events they count, in the same transaction, not yet folded
    into ``Figure``: appended, never updated, so no two writers wait for each other."""

    def __str__(self) -> str:
        return f"+{self.n} {self.metric} {self.day} store {self.store_id}"
