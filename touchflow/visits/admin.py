"""The reason list: managers add the business's own reasons beside the built-in ones."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from touchflow.stores.admin import ManagerEditable
from touchflow.visits.models import Reason


@admin.register(Reason)
class ReasonAdmin(ManagerEditable):
    list_display = (
        "code",
        "kind",
        "label_en",
        "label_ru",
        "label_pl",
        "position",
        "active",
        "builtin",
    )
    list_filter = ("kind", "active", "builtin")
    list_editable = ("position", "active")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Visits refer to reasons; retire one by unticking "active" instead.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code", "kind") if obj is not None and obj.builtin else ()
