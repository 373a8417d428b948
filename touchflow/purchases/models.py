"""Purchases, whether typed, sent by a POS through the API, or imported."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from touchflow.core.fields import JSONField
from touchflow.core.sources import Source
from touchflow.customers.models import Customer
from touchflow.stores.models import Store

PurchaseSource = Source


class Purchase(models.Model):
    # The (customer, occurred_at) index serves lookups by customer; visits are indexed
    # only where set, as most purchases have none (decision 0006).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    # Kept by Django, not checked per row by the database (decision 0006).
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="purchases", db_constraint=False
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="purchases",
        db_index=False,
    )
    occurred_at = models.DateTimeField(_("time"))
    # NULL: a sale logged at the counter ("bought") whose amount nobody has told us yet;
    # the till's purchase carrying the visit's id completes this row (decision 0007).
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3)
    categories = JSONField(_("categories"), default=list, blank=True)
    # [{"sku": str, "name": str, "quantity": int, "unit_price": "1.25"}]
    items = JSONField(_("items"), default=list, blank=True)
    source = models.CharField(max_length=16, choices=PurchaseSource.choices)
    # NULL (not "") keeps the unique constraint on external ids partial.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=100, null=True, blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "external_id"],
                condition=Q(external_id__isnull=False),
                name="purchase_external_id_unique",
            ),
            # One sale per visit waiting for its amount: the till completes that row.
            models.UniqueConstraint(
                fields=["visit"],
                condition=Q(amount__isnull=True),
                name="purchase_one_pending_per_visit",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"]),
            models.Index(
                fields=["visit"], condition=Q(visit__isnull=False), name="purchase_visit"
            ),
        ]

    def __str__(self) -> str:
        amount = "?" if self.amount is None else self.amount
        return f"{amount} {self.currency} ({self.external_id or self.pk})"

    @property
    def pending(self) -> bool:
        """A counter sale whose amount the till has not reported yet."""
        return self.amount is None
