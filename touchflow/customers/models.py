"""Customers, their contact points, and the consent record of each contact point."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from touchflow.core.fields import JSONField
from touchflow.stores.models import LANGUAGE_CHOICES, Store, validate_time_zone


class ActiveCustomerManager(models.Manager["Customer"]):
    def get_queryset(self) -> models.QuerySet[Customer]:
        return super().get_queryset().filter(merged_into__isnull=True)


class Customer(models.Model):
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, default="en")
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    country = models.CharField(_("country"), max_length=64, blank=True)
    tags = JSONField(_("tags"), default=list, blank=True)
    # References to a store are kept by Django (PROTECT / CASCADE run in the ORM), not
    # checked by the database row by row: every check share-locks the store's row
    # (decision 0006).
    home_store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="home_customers",
        verbose_name=_("home store"), db_constraint=False,
    )
    stores = models.ManyToManyField(
        Store, through="CustomerStore", related_name="customers", verbose_name=_("stores")
    )
    # A merged customer stays as a tombstone pointing at the survivor, so that ids
    # integrators stored keep resolving.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_from"
    )
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # An unhappy answer or a complaint is being handled: no offer goes to them until a
    # manager resolves it (set and cleared by aftercare's escalations; a merge carries a
    # duplicate's hold to the survivor with its escalations).
    commercial_held = models.BooleanField(_("offers held"), default=False, db_default=False)

    objects = models.Manager()
    active = ActiveCustomerManager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"

    def external_id_in(self, store_id: int | None) -> str | None:
        """The customer's id in that store's POS (the oldest, if a merge left several).

        Reads ``external_ids`` through the prefetch cache when the caller prefetched it.
        """
        ids = [e for e in self.external_ids.all() if e.store_id == store_id]
        return min(ids, key=lambda e: e.pk).value if ids else None


class CustomerExternalId(models.Model):
    """The customer's id in one store's POS or imported system (decision 0010).

    Ids are scoped per store: two stores' files may both say "17850" for two different
    people. A customer known to several stores may carry an id in each; after a merge
    the survivor carries every id of both, so each keeps resolving.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="external_ids")
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    value = models.CharField(_("external id"), max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "value"], name="customer_external_id_unique"),
        ]
        verbose_name = _("external id")
        verbose_name_plural = _("external ids")

    def __str__(self) -> str:
        return f"{self.value}@{self.store_id}"


class CustomerStore(models.Model):
    """A customer's relationship with one store: what makes them visible to its staff."""

    # No index of their own: the unique (customer, store) and the (store, customer) index
    # lead with each (decision 0006, "Indexes that another one covers").
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="store_links", db_index=False
    )
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="customer_links", db_index=False,
        db_constraint=False,
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # The name as this store recorded it (decision 0008): a store sees only the name it
    # was given. "" = this store gave none; None = not known (a link the importer wrote):
    # for the home store that means the customer's own ``name``, recorded at creation.
    name = models.CharField(_("name"), max_length=200, null=True, blank=True)  # noqa: DJ001 - None and "" differ
    # The customer's latest visit to this store (decision 0027): when, its class (a
    # ``visits.classification.VisitClass`` value, kept as plain text: customers sits
    # below visits) and who served it. Written with the rest of the link by every visit
    # (``actions.link_store``), so the customer list filters and sorts on them without
    # reading visits. NULL: no visit with this customer at this store.
    last_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_class = models.CharField(max_length=8, blank=True, default="", db_default="")
    last_visit_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False, db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "store"], name="customer_store_unique"),
        ]
        indexes = [
            models.Index(fields=["store", "customer"]),
            # The customer list (decision 0027): a store's customers by the class of
            # their last visit, and by its seller, newest customer first. (The order by
            # last visit has its index in migration 0013: PostgreSQL needs NULLS LAST.)
            models.Index(fields=["store", "last_visit_class", "customer"],
                         name="customer_store_visit_class"),
            models.Index(fields=["store", "last_visit_staff", "customer"],
                         name="customer_store_visit_staff"),
            # A search by name: a home link without a name of its own shows the
            # customer's (``visibility.customers_named``); a few per cent of the links.
            models.Index(fields=["customer", "store"], condition=models.Q(name__isnull=True),
                         name="customer_store_unnamed"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}@{self.store_id}"


class ContactKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    TELEGRAM = "telegram", _("Telegram")
    VIBER = "viber", _("Viber")
    WHATSAPP = "whatsapp", _("WhatsApp")
    OTHER = "other", _("Other social network")


class ContactPoint(models.Model):
    """One way to reach a customer. A normalised (kind, network, value) belongs to one customer."""

    # The (customer, kind) index serves lookups by customer (decision 0006).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ContactKind.choices)
    network = models.CharField(
        _("network"),
        max_length=32,
        blank=True,
        help_text=_("For other social networks: which one."),
    )
    value = models.CharField(_("value"), max_length=254)
    # Current consent, denormalised from the latest ConsentEvent of each purpose:
    # None = never asked, True = granted, False = withdrawn.
    contact_consent = models.BooleanField(_("may contact"), null=True)
    marketing_consent = models.BooleanField(_("may send offers"), null=True)
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    # When the customer last wrote to us from this contact: WhatsApp lets a business
    # answer freely only within 24 hours of it.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # A hard bounce: nothing more is sent to this address until it is corrected.
    undeliverable_at = models.DateTimeField(null=True, blank=True)
    undeliverable_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "network", "value"], name="contact_point_unique"
            ),
        ]
        indexes = [models.Index(fields=["customer", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class ContactPointStore(models.Model):
    """A store that recorded this contact point: what lets its staff see it (decision 0008).

    A contact point without any of these rows (written in bulk by the importer) counts
    as recorded by its customer's home store.
    """

    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="store_links"
    )
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="contact_links", db_constraint=False
    )
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_point", "store"], name="contact_point_store_unique"
            ),
        ]
        indexes = [models.Index(fields=["store", "contact_point"])]

    def __str__(self) -> str:
        return f"{self.contact_point_id}@{self.store_id}"


class ConsentPurpose(models.TextChoices):
    CONTACT = "contact", _("Service messages")
    MARKETING = "marketing", _("Offers and promotions")


class ConsentSource(models.TextChoices):
    COUNTER = "counter", _("Typed at the counter")
    QR = "qr", _("QR opt-in")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    ADMIN = "admin", _("Staff edit")
    CUSTOMER = "customer", _("Customer's own request")


class ConsentEvent(models.Model):
    """The audit log of consent: who granted or withdrew what, when, and how."""

    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="consent_events"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    purpose = models.CharField(max_length=16, choices=ConsentPurpose.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    integration = models.ForeignKey(
        "integrations.ApiToken", on_delete=models.SET_NULL, null=True, blank=True
    )
    # The store where it was given or withdrawn; None for the customer's own request
    # (STOP, an unsubscribe link), which every store that knows the contact sees.
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["customer", "at"])]

    def __str__(self) -> str:
        return f"{self.purpose} {'granted' if self.granted else 'withdrawn'} ({self.source})"


class OptInToken(models.Model):
    """A single-use token behind the counter screen's QR code.

    The customer scans the code, the messenger opens the store's bot with the token,
    and the bot's webhook links that chat to the visit's customer (funnel.optin;
    the links per messenger: messaging.optin_links).
    """

    token = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=16, default=ContactKind.TELEGRAM)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="optin_tokens")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    visit = models.ForeignKey(
        "visits.Visit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="optin_tokens",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="optin_tokens"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="optin_token_expires_later"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} opt-in {self.token[:6]}…"


class Suppression(models.Model):
    """A contact of an erased customer, as a keyed hash (``suppression.digest``): a contact
    point created later with the same hash gets its consent recorded as withdrawn. Kept
    with the contacts it guards (moved from ``privacy``, whose erasure fills it: the
    table keeps its name)."""

    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "privacy_suppression"

    def __str__(self) -> str:
        return f"suppressed {self.digest[:8]}…"


class ReferralCode(models.Model):
    """A customer's personal code for bringing someone to a store (issue 10): sent in the
    referral request after a happy check-in, typed at the counter, posted through the
    API, or opened as the link ``/ref/<code>``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                 related_name="referral_codes")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "store"],
                                               name="referral_code_one_per_store")]

    def __str__(self) -> str:
        return self.code


class ReferralState(models.TextChoices):
    COUNTED = "counted", _("Counted")
    HELD = "held", _("Held for a manager")
    REFUSED = "refused", pgettext_lazy("a referral that does not count", "Refused")


class Referral(models.Model):
    """A new customer who came with a code: one per new customer. What the checks found
    is its state; a held one waits for a manager's decision, nothing is dropped."""

    code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="referrals")
    referrer = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                 related_name="referrals_made")
    # One per new customer, kept by ``referrals.refer`` (not a unique index: merging two
    # customers who each came with a code must not fail).
    referred = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="referred_by")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    via = models.CharField(max_length=16)  # counter, api, link
    state = models.CharField(max_length=8, choices=ReferralState.choices)
    reason = models.CharField(max_length=32, blank=True)  # why held or refused
    at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["store", "state", "at"], name="referral_store_state")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id} ({self.state})"
