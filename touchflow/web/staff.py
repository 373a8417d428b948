"""The signed-in staff member of a request, typed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from touchflow.stores.models import Staff


def staff_of(request: HttpRequest) -> Staff:
    """The staff member behind a ``login_required`` view's request."""
    user = request.user
    if not isinstance(user, Staff):
        raise PermissionDenied
    return user
