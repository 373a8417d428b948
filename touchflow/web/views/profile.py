"""The staff member's own settings: the language of the UI."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from touchflow.core.errors import InvalidInput
from touchflow.stores.actions import set_staff_language
from touchflow.stores.models import LANGUAGE_CHOICES
from touchflow.web.errors import message
from touchflow.web.staff import staff_of


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    error = ""
    staff = staff_of(request)
    if request.method == "POST":
        try:
            set_staff_language(staff, request.POST.get("language", ""))
        except InvalidInput as exc:
            error = message(exc)
        else:
            # The confirmation is said in the language just picked.
            translation.activate(staff.language)
            messages.success(request, _("Language saved."))
            return redirect("web:profile")
    context = {"languages": LANGUAGE_CHOICES, "error": error}
    return render(request, "web/profile.html", context, status=422 if error else 200)
