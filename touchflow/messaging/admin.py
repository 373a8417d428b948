"""Admin for provider accounts: credentials are write-only (typed in, never shown)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.admin import AdminOnly


class ChannelAccountForm(forms.ModelForm):  # type: ignore[type-arg]
    base_url = forms.URLField(
        label=_("API base URL"), required=False, assume_scheme="https",
        help_text=_("Leave empty for the provider's own; set it for a proxy or a test server."),
    )
    new_credentials = forms.CharField(
        label=_("Credentials (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('E.g. {"token": "…", "secret_token": "…"}. Stored encrypted and never '
                    "shown again; leave empty to keep the current ones."),
    )

    class Meta:
        model = ChannelAccount
        fields = ("store", "provider", "handle", "base_url", "rate_limit", "enabled")

    def clean_new_credentials(self) -> dict[str, Any] | None:
        text = self.cleaned_data.get("new_credentials", "").strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(
                _("Not valid JSON: %(error)s"), params={"error": exc}
            ) from exc
        if not isinstance(data, dict):
            raise forms.ValidationError(_("Must be a JSON object of names and values."))
        return data

    def save(self, commit: bool = True) -> ChannelAccount:
        account: ChannelAccount = super().save(commit=False)
        if self.cleaned_data.get("new_credentials") is not None:
            account.credentials = self.cleaned_data["new_credentials"]
        if commit:
            account.save()
        return account


@admin.register(ChannelAccount)
class ChannelAccountAdmin(AdminOnly):
    form = ChannelAccountForm
    list_display = (
        "store", "channel", "provider", "handle", "rate_limit", "enabled", "webhook_url",
    )
    list_filter = ("provider", "enabled", "store")
    readonly_fields = ("webhook_url",)

    @admin.display(description=_("Webhook URL"))
    def webhook_url(self, obj: ChannelAccount) -> str:
        return f"{settings.TOUCHFLOW_PUBLIC_URL}{obj.webhook_path()}" if obj.pk else "—"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        accounts.forget()
