"""Django admin for admins: stores, staff and their roles, product categories."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from touchflow.stores.models import Category, Staff, Store


class AdminOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """Only the admin role may see or change these models."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_admin", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


class ManagerEditable(AdminOnly):
    """Managers (and admins) may maintain these lists."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_manager", False))


@admin.register(Store)
class StoreAdmin(AdminOnly):
    list_display = ("name", "slug", "country", "time_zone", "language", "currency", "telegram_bot")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "slug")


@admin.register(Staff)
class StaffAdmin(AdminOnly, UserAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    list_display = ("username", "first_name", "last_name", "role", "language", "is_active")
    list_filter = ("role", "stores", "is_active")
    filter_horizontal = ("stores",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email", "language")}),
        (_("Role and stores"), {"fields": ("role", "stores", "is_active")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2", "role", "stores", "language")}),
    )


@admin.register(Category)
class CategoryAdmin(ManagerEditable):
    list_display = ("slug", "name_en", "name_ru", "name_pl", "position", "active")
    list_editable = ("position", "active")
