"""A store's view of its relationships, rebuilt once a day (decision 0024, "The
database side"): one ``StoreFit`` per store (its rhythms and its BG/NBD parameters) and
one ``CustomerHealth`` per customer and store, built only from what that store recorded.

Both are snapshots: ``health.actions.refresh`` replaces a store's rows in one
transaction, so nothing here is edited row by row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Segment(models.TextChoices):
    BUYERS = "buyers", _("Buyers")
    PROSPECTS = "prospects", _("Prospects")


class RhythmSource(models.TextChoices):
    OWN = "own", "own"  # the customer's own purchase rhythm
    STORE = "store", "store"  # the store's purchase rhythm
    VISITS = "visits", "visits"  # the store's visit-return rhythm (prospects)
    NONE = "", "none"  # the store has no rhythm yet


class Reason(models.TextChoices):
    """Which rule marked a customer cold, or why they are not (``health.rules``)."""

    OVERDUE_OWN_RHYTHM = "overdue_own_rhythm", _("Overdue by their own rhythm")
    OVERDUE_STORE_RHYTHM = "overdue_store_rhythm", _("Overdue by the store's rhythm")
    OVERDUE_VISIT_RHYTHM = "overdue_visit_rhythm", _("Overdue by the store's visit rhythm")
    P_ALIVE_LOW = "p_alive_low", _("Likely gone, by the store's model")
    IN_RHYTHM = "in_rhythm", _("In rhythm")
    NO_RHYTHM = "no_rhythm", _("Too little history")


COLD_REASONS = (Reason.OVERDUE_OWN_RHYTHM, Reason.OVERDUE_STORE_RHYTHM,
                Reason.OVERDUE_VISIT_RHYTHM, Reason.P_ALIVE_LOW)


class FitNote(models.TextChoices):
    """Whether the store's BG/NBD parameters exist, and if not, why."""

    FITTED = "fitted", "fitted"
    SHORT_HISTORY = "short_history", "short history"  # bgnbd.enough_history said no
    FIT_FAILED = "fit_failed", "fit failed"  # bgnbd.FitError: ``detail`` says why
    NEVER = "never", "never refreshed"


class StoreFit(models.Model):
    """One store's current numbers: its rhythms, its BG/NBD parameters (NULL unless
    ``note`` is "fitted"), how many customers of each segment are cold, and who is
    refreshing it (the worker's daily chore claims a store until ``claimed_until``)."""

    # Kept by Django, not checked per row by the database (decision 0006).
    store = models.OneToOneField(
        "stores.Store", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    as_of = models.DateField(null=True, blank=True)  # the store's calendar day it describes
    fitted_at = models.DateTimeField(null=True, blank=True)  # when the refresh ran
    claimed_until = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)  # how long the refresh took
    buyers = models.PositiveIntegerField(default=0)
    cold_buyers = models.PositiveIntegerField(default=0)
    prospects = models.PositiveIntegerField(default=0)
    cold_prospects = models.PositiveIntegerField(default=0)
    repeat_buyers = models.PositiveIntegerField(default=0)
    store_rhythm_days = models.FloatField(null=True, blank=True)
    visit_rhythm_days = models.FloatField(null=True, blank=True)
    r = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)  # in days
    a = models.FloatField(null=True, blank=True)
    b = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=16, choices=FitNote.choices, default=FitNote.NEVER)
    detail = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"health of store {self.store_id} as of {self.as_of}"

    @property
    def customers(self) -> int:
        return self.buyers + self.prospects

    def cold_in(self, segment: str) -> int:
        return self.cold_buyers if segment == Segment.BUYERS else self.cold_prospects

    def total_in(self, segment: str) -> int:
        return self.buyers if segment == Segment.BUYERS else self.prospects


class CustomerHealth(models.Model):
    """How one customer stands with one store on ``StoreFit.as_of``: from that store's
    purchases, visits and two-way contacts only (a store sees only what it recorded,
    decision 0008).

    ``related_name="+"``: a merge must not move these rows to the survivor (the
    survivor's own row for the store would collide with the duplicate's); the next
    refresh rebuilds both from the merged history. Unchecked references, like every
    bulk-written table's (decision 0006): Django cascades a deleted customer or store.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+",
        db_constraint=False, db_index=False,
    )
    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="+", db_constraint=False,
        db_index=False,
    )
    segment = models.CharField(max_length=12, choices=Segment.choices)
    last_purchase_on = models.DateField(null=True, blank=True)
    # The last two-way contact: a visit, a message from the customer (not a STOP), a
    # staff reply, a check-in answer, a call that reached them.
    last_contact_on = models.DateField(null=True, blank=True)
    purchase_days = models.PositiveIntegerField(default=0)
    rhythm_days = models.FloatField(null=True, blank=True)
    rhythm_source = models.CharField(max_length=8, choices=RhythmSource.choices, blank=True)
    days_since = models.IntegerField()
    days_overdue = models.FloatField(null=True, blank=True)
    ratio = models.FloatField(null=True, blank=True)
    # BG/NBD, where the store has a fit: p_alive for repeat buyers only (it is 1 for a
    # one-time buyer by the model's construction), expected purchases for every buyer.
    p_alive = models.FloatField(null=True, blank=True)
    expected_90d = models.FloatField(null=True, blank=True)
    cold = models.BooleanField(default=False)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "store"],
                                    name="customer_health_unique"),
        ]
        indexes = [
            # The cold page: one store's cold customers of a segment, the freshest first.
            # (Partial: most customers are not cold, and no page lists those.)
            models.Index(fields=["store", "segment", "ratio", "customer"],
                         name="health_cold_list", condition=Q(cold=True)),
            # A refresh's delete and the counts, by store.
            models.Index(fields=["store", "segment"], name="health_store_segment"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}@{self.store_id}: {self.reason}"
