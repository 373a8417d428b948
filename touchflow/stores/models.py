"""Stores, the staff who work in them, and the business's product categories."""

from __future__ import annotations

import zoneinfo
from datetime import date, time

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from touchflow.core import currencies, working_hours
from touchflow.core.fields import HttpsURLField

LANGUAGE_CHOICES = [("en", "English"), ("ru", "Русский"), ("pl", "Polski")]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


DEFAULT_HOURS = "mon-fri 09:00-18:00; sat 10:00-14:00"


def validate_opening_hours(value: str) -> None:
    try:
        working_hours.parse_week(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def validate_holidays(value: str) -> None:
    try:
        holidays_of(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def holidays_of(text: str) -> frozenset[date]:
    """The dates of "2026-12-25, 2027-01-01" (commas or spaces between them); ValueError
    naming the first that is not a date."""
    days = set()
    for item in text.replace(",", " ").split():
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"{item!r} is not a date like 2026-12-25") from None
    return frozenset(days)


def validate_currency(value: str) -> None:
    if not currencies.is_currency(value):
        raise ValidationError(
            _("%(code)s is not an ISO 4217 currency code; use one such as GBP, EUR or PLN."),
            params={"code": value},
        )


class Store(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        default="GB",
        help_text=_("ISO 3166 code; phone numbers without a country code are read as local."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("default language"), max_length=2, choices=LANGUAGE_CHOICES, default="en"
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="GBP", validators=[validate_currency]
    )
    telegram_bot = models.CharField(
        _("Telegram bot username"),
        max_length=64,
        blank=True,
        help_text=_("Without the @; the counter QR code opens a chat with this bot."),
    )
    # Contact policy (SPEC §1 "anti-sales"): never at night, never too often.
    quiet_hours_start = models.TimeField(
        _("quiet hours start"), default=time(21, 0), help_text=_("In the customer's time zone.")
    )
    quiet_hours_end = models.TimeField(_("quiet hours end"), default=time(9, 0))
    cap_messages = models.PositiveSmallIntegerField(
        _("messages per period"), default=2, help_text=_("Across all chains, per customer.")
    )
    cap_commercial = models.PositiveSmallIntegerField(_("offers per period"), default=1)
    cap_period_days = models.PositiveSmallIntegerField(_("period (days)"), default=7)
    # Where review requests send customers (Google, Trustpilot…); empty: nobody is asked.
    review_url = HttpsURLField(
        _("review page"), max_length=500, blank=True, default="", db_default="",
        help_text=_("Review requests go to everyone who answered a check-in, with this "
                    "link; leave empty to ask nobody."),
    )
    # A customer asked "is everything OK?" is not asked again this soon (flows.check_ins).
    check_in_throttle_days = models.PositiveSmallIntegerField(
        _("check-in at most once per (days)"), default=30, db_default=30,
        help_text=_("However many purchases a customer makes, they are asked how it went "
                    "at most once in this many days."),
    )
    # When a manager must answer an unhappy customer: within ``response_hours`` of the
    # store's opening hours (core.working_hours), holidays not counted.
    opening_hours = models.CharField(
        _("opening hours"), max_length=300, default=DEFAULT_HOURS, db_default=DEFAULT_HOURS,
        validators=[validate_opening_hours],
        help_text=_("Days and hours, e.g. “mon-fri 09:00-18:00; sat 10:00-14:00”."),
    )
    holidays = models.CharField(
        _("holidays"), max_length=2000, blank=True, default="", db_default="",
        validators=[validate_holidays],
        help_text=_("Dates the store is closed, e.g. “2026-12-25, 2027-01-01”."),
    )
    response_hours = models.PositiveSmallIntegerField(
        _("response time (working hours)"), default=4, db_default=4,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text=_("How soon a manager must reach an unhappy customer, in opening hours."),
    )
    # A check-in rated at or below this (1–5) is an unhappy answer (flows.answers).
    unhappy_at_most = models.PositiveSmallIntegerField(
        _("unhappy at or below"), default=2, db_default=2,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text=_("A check-in rating at or below this is unhappy: a manager follows it up."),
    )
    # The dashboard credits a purchase to the chain whose message reached the customer
    # last within this many days before it (last touch; timeline.figures, decision 0028).
    attribution_days = models.PositiveSmallIntegerField(
        _("credit a sale to a chain within (days)"), default=14, db_default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("A purchase counts for the chain whose message the customer got last "
                    "within this many days before buying."),
    )
    # The 20% rule (seed 004): the share of staff effort the business wants spent on
    # customers who have already bought.
    effort_target = models.PositiveSmallIntegerField(
        _("effort on buyers, target (per cent)"), default=20, db_default=20,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("The share of calls and replies the store wants to go to customers "
                    "who have already bought."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return self.name

    def hours(self) -> working_hours.OpeningHours:
        """The store's opening hours, holidays and time zone, for deadlines."""
        return working_hours.OpeningHours(
            week=working_hours.parse_week(self.opening_hours),
            holidays=holidays_of(self.holidays),
            time_zone=self.time_zone,
        )


class Role(models.TextChoices):
    SALESPERSON = "salesperson", _("Salesperson")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class Staff(AbstractUser):
    """A person who logs in: a salesperson, a manager or an admin."""

    role = models.CharField(
        _("role"), max_length=16, choices=Role.choices, default=Role.SALESPERSON
    )
    stores = models.ManyToManyField(
        Store, related_name="staff", blank=True, verbose_name=_("stores")
    )
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, default="en")
    # Where a manager hears of an unhappy customer: their Telegram chat with the store's
    # bot when set (and the store has a Telegram account), else their e-mail.
    telegram_chat = models.CharField(
        _("Telegram chat id"), max_length=32, blank=True, default="", db_default="",
        help_text=_("For alerts about unhappy customers; e-mail is used when empty."),
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def save(self, *args: object, **kwargs: object) -> None:
        # Django admin access follows the role: managers edit the reason list there,
        # admins everything. Keeping the flags derived means they cannot drift.
        self.is_staff = self.role in (Role.MANAGER, Role.ADMIN) or self.is_superuser
        if self.role == Role.ADMIN:
            self.is_superuser = True
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER or self.is_admin

    def works_in(self, store: Store) -> bool:
        """Admins work everywhere; others in their stores (known ones are remembered)."""
        if self.is_admin:
            return True
        known: set[int] = self.__dict__.setdefault("_known_stores", set())
        if store.pk in known:
            return True
        if self.stores.filter(pk=store.pk).exists():
            known.add(store.pk)
            return True
        return False


class Category(models.Model):
    """A product category (or service line) that visits and purchases refer to."""

    slug = models.SlugField(_("code"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_ru = models.CharField(_("name (Russian)"), max_length=120, blank=True)
    name_pl = models.CharField(_("name (Polish)"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=100)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name_en

    def label(self, language: str) -> str:
        return getattr(self, f"name_{language}", "") or self.name_en


def remember_store(staff: Staff, store: Store) -> None:
    """Record that a query already proved ``staff`` works in ``store``."""
    staff.__dict__.setdefault("_known_stores", set()).add(store.pk)


class LoginFailure(models.Model):
    """One failed sign-in, counted against a username or a client address.

    Kept in the database, not in a process's memory, so that every web process on
    every machine counts the same failures (``touchflow/web/throttle.py``). ``key`` is a
    hash: neither the typed username nor the address is stored in the clear.
    """

    key = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["key", "at"], name="stores_loginfail_key_at"),
            # Pruning what left the window reads by time alone.
            models.Index(fields=["at"], name="stores_loginfail_at"),
        ]

    def __str__(self) -> str:
        return f"{self.key[:12]}… at {self.at:%Y-%m-%d %H:%M:%S}"
