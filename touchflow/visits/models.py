"""Visits and the business's list of reasons for not buying."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from touchflow.core.sources import Source
from touchflow.customers.models import Customer
from touchflow.stores.models import Store
from touchflow.visits.classification import ContactCapture, VisitClass


class ReasonKind(models.TextChoices):
    OBJECTIVE = "objective", _("Objective reason")
    SELLER_ERROR = "seller_error", _("Seller error")


class Reason(models.Model):
    """Why a visitor did not buy. Built-ins come with the product; managers add more."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ReasonKind.choices)
    label_en = models.CharField(_("label (English)"), max_length=120)
    label_ru = models.CharField(_("label (Russian)"), max_length=120, blank=True)
    label_pl = models.CharField(_("label (Polish)"), max_length=120, blank=True)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)

    class Meta:
        ordering = ["kind", "position", "code"]
        verbose_name = _("reason")
        verbose_name_plural = _("reasons")

    def __str__(self) -> str:
        return self.label_en

    def label(self, language: str) -> str:
        return getattr(self, f"label_{language}", "") or self.label_en


VisitSource = Source


class Visit(models.Model):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="visits")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )
    occurred_at = models.DateTimeField(_("time"))
    bought = models.BooleanField(_("bought"))
    contact_capture = models.CharField(_("contacts"), max_length=16, choices=ContactCapture.choices)
    reason = models.ForeignKey(
        Reason, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("reason")
    )
    visit_class = models.CharField(_("class"), max_length=8, choices=VisitClass.choices)
    categories = models.JSONField(_("categories of interest"), default=list, blank=True)
    note = models.TextField(_("note"), blank=True)
    source = models.CharField(max_length=16, choices=VisitSource.choices)
    # NULL (not "") keeps the unique constraint on external ids partial.
    external_id = models.CharField(  # noqa: DJ001
        max_length=100, null=True, blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "external_id"],
                condition=Q(external_id__isnull=False),
                name="visit_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(bought=False) | Q(reason__isnull=True),
                name="visit_reason_only_if_not_bought",
            ),
            models.CheckConstraint(
                condition=~Q(contact_capture=ContactCapture.TAKEN) | Q(customer__isnull=False),
                name="visit_contacts_taken_has_customer",
            ),
            models.CheckConstraint(
                condition=(
                    Q(contact_capture=ContactCapture.NOT_ATTEMPTED, visit_class=VisitClass.GREY)
                    | Q(
                        bought=True,
                        contact_capture=ContactCapture.TAKEN,
                        visit_class=VisitClass.TYPE_1,
                    )
                    | Q(
                        bought=True,
                        contact_capture=ContactCapture.REFUSED,
                        visit_class=VisitClass.TYPE_2,
                    )
                    | Q(
                        bought=False,
                        contact_capture=ContactCapture.TAKEN,
                        visit_class=VisitClass.TYPE_3,
                    )
                    | Q(
                        bought=False,
                        contact_capture=ContactCapture.REFUSED,
                        visit_class=VisitClass.TYPE_4,
                    )
                ),
                name="visit_class_matches_result",
            ),
        ]
        indexes = [
            models.Index(fields=["store", "occurred_at"]),
            models.Index(fields=["customer", "occurred_at"]),
            # The visit list across stores: the newest first, read backwards (its order
            # is occurred_at, id); the two above lead with a store or a customer.
            models.Index(fields=["occurred_at", "id"], name="visit_recent"),
            # A seller's visits over a period (the dashboard's drill-down to a seller).
            models.Index(fields=["staff", "occurred_at"], name="visit_staff_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.visit_class} visit {self.pk}"
