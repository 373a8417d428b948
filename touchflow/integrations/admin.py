"""API tokens are listed here; they are created with ``touchflow token create``."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from touchflow.integrations.models import ApiToken
from touchflow.stores.admin import AdminOnly


@admin.register(ApiToken)
class ApiTokenAdmin(AdminOnly):
    list_display = ("name", "prefix", "store", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "store", "created_at", "last_used_at")
    fields = ("name", "prefix", "store", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
