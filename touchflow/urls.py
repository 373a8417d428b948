from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from touchflow.api.urls import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("touchflow.messaging.urls")),
    path("", include("touchflow.web.urls")),
]
