"""A customer's data export: a page to read (``/customers/<id>/export``) and a JSON file
(``/customers/<id>/export.json``). Admins only (decision 0012): the export covers every
store the person dealt with. Each opening is logged on the privacy log."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from touchflow.core.errors import InvalidInput
from touchflow.privacy.actor import Requester
from touchflow.privacy.export import SECTIONS, export_customer
from touchflow.web.staff import staff_of

# What the page calls each field of a section's rows; a field without a label here
# shows its key.
LABELS = {
    "id": gettext_lazy("Number"), "name": gettext_lazy("Name"),
    "language": gettext_lazy("Language"), "time_zone": gettext_lazy("Time zone"),
    "country": gettext_lazy("Country"), "tags": gettext_lazy("Tags"),
    "external_id": gettext_lazy("External id"),
    "external_ids": gettext_lazy("External ids"), "home_store": gettext_lazy("Home store"),
    "merged_ids": gettext_lazy("Merged records"), "created_at": gettext_lazy("Created"),
    "erased_at": gettext_lazy("Erased"), "store": gettext_lazy("Store"),
    "first_seen_at": gettext_lazy("First seen"), "last_seen_at": gettext_lazy("Last seen"),
    "kind": gettext_lazy("Kind"), "network": gettext_lazy("Network"),
    "value": gettext_lazy("Contact details"), "contact": gettext_lazy("Contact details"),
    "contact_consent": gettext_lazy("Service messages"),
    "marketing_consent": gettext_lazy("Offers"),
    "consent_updated_at": gettext_lazy("Consent changed"),
    "last_inbound_at": gettext_lazy("Last wrote to us"),
    "undeliverable_at": gettext_lazy("Undeliverable since"),
    "undeliverable_reason": gettext_lazy("Why undeliverable"),
    "at": gettext_lazy("Time"), "purpose": gettext_lazy("Purpose"),
    "granted": gettext_lazy("Granted"), "source": gettext_lazy("Source"),
    "staff": gettext_lazy("Staff member"), "integration": gettext_lazy("Integration"),
    "note": gettext_lazy("Note"), "bought": gettext_lazy("Bought"),
    "contacts": gettext_lazy("Contacts"), "class": gettext_lazy("Class"),
    "reason": gettext_lazy("Reason"), "categories": gettext_lazy("Categories"),
    "amount": gettext_lazy("Amount"), "currency": gettext_lazy("Currency"),
    "items": gettext_lazy("Items"), "visit_id": gettext_lazy("Visit"),
    "chain": gettext_lazy("Chain"), "chain_name": gettext_lazy("Chain name"),
    "state": gettext_lazy("State"), "entered_at": gettext_lazy("Entered"),
    "ended_at": gettext_lazy("Ended"), "end_reason": gettext_lazy("Why it ended"),
    "step": gettext_lazy("Step"), "channel": gettext_lazy("Channel"),
    "due_at": gettext_lazy("Due"), "finished_at": gettext_lazy("Finished"),
    "receipt": gettext_lazy("Receipt"), "last_error": gettext_lazy("Last error"),
    "template": gettext_lazy("Message text (template)"),
    "attempts": gettext_lazy("Failed attempts"), "direction": gettext_lazy("Direction"),
    "text": gettext_lazy("Text"), "assignee": gettext_lazy("Assignee"),
    "phone": gettext_lazy("Phone"), "script": gettext_lazy("Script"),
    "result": gettext_lazy("Result"), "done_at": gettext_lazy("Done"),
    "data": gettext_lazy("Details"), "action": gettext_lazy("Action"),
    "by": gettext_lazy("By"),
    "name_given": gettext_lazy("Name given there"),
    "recorded_by": gettext_lazy("Recorded by"),
}


def _document(request: HttpRequest, pk: int) -> dict[str, Any]:
    staff = staff_of(request)
    if not staff.is_admin:
        raise PermissionDenied
    try:
        return export_customer(pk, Requester.of_staff(staff))
    except InvalidInput as exc:
        raise Http404 from exc


def _text(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _readable(rows: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    return [[(str(LABELS.get(k, k)), _text(v)) for k, v in row.items()] for row in rows]


@login_required
@require_GET
def export_page(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    sections = [
        {"key": key, "title": SECTIONS[key].title, "rows": _readable(rows)}
        for key, rows in document["sections"].items()
    ]
    return render(request, "web/privacy_export.html",
                  {"document": document, "sections": sections})


@login_required
@require_GET
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 2})
    name = f"touchflow-customer-{document['customer_id']}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
