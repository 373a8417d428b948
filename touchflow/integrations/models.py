"""API tokens for POS systems and other integrations."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A bearer token for one integration. Only a SHA-256 of the secret is stored."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(max_length=12, help_text=_("First characters, to recognise it."))
    secret_hash = models.CharField(max_length=64, unique=True)
    store = models.ForeignKey(
        "stores.Store",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("When set, the token may act only for this store."),
    )
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
