"""Pages only managers and admins may open."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from touchflow.web.staff import staff_of

View = Callable[..., HttpResponse]


def manager_required(view: View) -> View:
    """Sign-in first (a redirect), then 403 for a salesperson."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not staff_of(request).is_manager:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
