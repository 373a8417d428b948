from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from touchflow.api.urls import api

# The admin says whose it is, in the staff member's language (Django's default reads
# "Django administration" in English only where its own catalogue has no entry).
admin.site.site_header = _("Touchflow administration")
admin.site.site_title = _("Touchflow admin")
admin.site.index_title = _("Stores, staff and settings")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("touchflow.messaging.urls")),
    path("", include("touchflow.web.urls")),
]
