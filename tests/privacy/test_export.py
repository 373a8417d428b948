"""The export: every section, from the CLI, the API and the web, each on the privacy log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.test import Client
from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.customers.models import Customer, OptInToken
from touchflow.integrations.actions import create_token
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.privacy.export import SECTIONS, covered_models, export_customer
from touchflow.privacy.models import AuditEntry, Erasure
from touchflow.stores.models import Role, Staff, Store

from .conftest import EMAIL, MARKER, PHONE, TOMBSTONE_PHONE, Seeded

runner = CliRunner()
# Rows that point at a customer but say nothing about the person: a QR code's random
# one-time token (its store and time are in the visit already).
NOT_EXPORTED = {OptInToken}


def test_every_table_that_points_at_a_customer_has_a_section(db: None) -> None:
    """A new model with a customer foreign key fails here until it joins the export."""
    # Hidden relations too (related_name="+"): a table need not be reachable from the
    # customer to hold something about them.
    pointing = {f.related_model for f in Customer._meta.get_fields(include_hidden=True)
                if f.auto_created and not f.concrete}
    pointing.discard(Customer)  # merged tombstones: the profile lists their ids
    assert pointing - covered_models() - NOT_EXPORTED == set()


def test_the_export_holds_everything_including_the_merged_record(seeded: Seeded) -> None:
    document = export_customer(seeded.tombstone.pk, Requester.cli())
    assert document["customer_id"] == seeded.customer.pk
    assert document["requested_id"] == seeded.tombstone.pk
    sections = document["sections"]
    assert list(sections) == list(SECTIONS)
    assert sections["profile"][0]["name"] == f"{MARKER} Kowalska"
    assert sections["profile"][0]["merged_ids"] == [seeded.tombstone.pk]
    assert {c["value"] for c in sections["contacts"]} == {
        PHONE, EMAIL, f"@{MARKER.lower()}_tg", TOMBSTONE_PHONE}
    assert [e["note"] for e in sections["consents"] if e["note"]] == [
        f"said {MARKER} at the till"]
    assert [v["note"] for v in sections["visits"]] == [f"asked about {MARKER}"]
    assert sections["purchases"][0]["items"][0]["name"] == f"engraved {MARKER}"
    assert [(r["direction"], r["text"]) for r in sections["replies"]] == [
        ("in", f"hi, {MARKER} here"), ("out", f"Hello {MARKER}!")]
    assert sections["tasks"][0]["script"] == f"Call {MARKER} about the sofa"
    sent = next(m for m in sections["messages"] if m["attempts"])
    assert sent["attempts"][0]["error"] == f"mailbox {EMAIL} full"
    assert sent["template"]["text"]  # the step's text in the customer's language
    assert sections["chains"] and sections["stores"] and sections["timeline"]
    json.dumps(document)  # JSON values only


def test_the_export_says_what_each_store_was_told(seeded: Seeded, store: Store) -> None:
    """Each store's own name for the person and which store took each contact (decision
    0008) belong to the person too."""
    sections = export_customer(seeded.customer.pk, Requester.cli())["sections"]
    assert [(s["store"], s["name_given"]) for s in sections["stores"]] == [
        (store.name, f"{MARKER} Kowalska")]
    phone = next(c for c in sections["contacts"] if c["value"] == PHONE)
    assert phone["recorded_by"] == [store.name]


def test_each_export_is_logged_and_the_log_says_nothing_about_the_person(
        seeded: Seeded) -> None:
    export_customer(seeded.customer.pk, Requester.cli())
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.customer_id, entry.actor_kind) == (
        "export", seeded.customer.pk, "cli")
    assert MARKER not in json.dumps(entry.counts)
    second = export_customer(seeded.customer.pk, Requester.cli())
    assert [e["action"] for e in second["sections"]["privacy_log"]] == ["export"]


def test_an_erased_customer_exports_as_an_empty_tombstone(seeded: Seeded) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    document = export_customer(seeded.customer.pk, Requester.cli())
    assert MARKER not in json.dumps(document)
    assert document["sections"]["profile"][0]["erased_at"] is not None
    assert document["sections"]["contacts"] == []


# -- the command line -------------------------------------------------------------------

def test_cli_export_writes_the_file(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    result = runner.invoke(build_app(), ["privacy", "export", str(seeded.customer.pk),
                                         "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["sections"]["profile"][0]["id"] == seeded.customer.pk
    assert AuditEntry.objects.get().actor_kind == "cli"


def test_cli_erase_needs_yes_then_erases(seeded: Seeded) -> None:
    refused = runner.invoke(build_app(), ["privacy", "erase", str(seeded.customer.pk)])
    assert refused.exit_code == 2
    assert not Erasure.objects.exists()
    result = runner.invoke(build_app(), ["privacy", "erase", str(seeded.customer.pk), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"customer {seeded.customer.pk} erased" in result.stdout
    assert Erasure.objects.filter(customer=seeded.customer).exists()


def test_cli_names_an_unknown_customer(db: None) -> None:
    result = runner.invoke(build_app(), ["privacy", "export", "424242"])
    assert result.exit_code == 2
    assert "customer_id: No customer 424242." in result.output


# -- the API ----------------------------------------------------------------------------

def _api(store: Store | None) -> dict[str, str]:
    _token, secret = create_token(f"t-{store.slug if store else 'all'}", store=store)
    return {"Authorization": f"Bearer {secret}"}


def test_api_export_and_erase_with_an_unbound_token(seeded: Seeded) -> None:
    headers = _api(None)
    client = Client()
    response = client.get(f"/api/v1/customers/{seeded.customer.pk}/export", headers=headers)
    assert response.status_code == 200
    assert response.json()["sections"]["contacts"]
    response = client.post(f"/api/v1/customers/{seeded.customer.pk}/erase", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["customer_id"], body["counts"]["suppressed"]) == (seeded.customer.pk, 4)
    assert [(e.action, e.actor_kind) for e in AuditEntry.objects.order_by("id")] == [
        ("export", "api"), ("erase", "api")]


def test_api_refuses_a_store_bound_token_and_no_token(seeded: Seeded, store: Store) -> None:
    headers = _api(store)  # the customer's own store, even so
    client = Client()
    for method, path in (("get", "export"), ("post", "erase")):
        url = f"/api/v1/customers/{seeded.customer.pk}/{path}"
        response = getattr(client, method)(url, headers=headers)
        assert response.status_code == 403, (path, response.content)
        assert response.json()["detail"][0]["code"] == "forbidden"
        assert getattr(client, method)(url).status_code == 401
    assert not AuditEntry.objects.exists()
    assert not Erasure.objects.exists()


def test_api_unknown_customer_is_404(db: None) -> None:
    headers = _api(None)
    response = Client().get("/api/v1/customers/424242/export", headers=headers)
    assert response.status_code == 404
    assert response.json()["detail"][0]["field"] == "customer_id"


# -- the web ----------------------------------------------------------------------------

def _signed_in(staff: Staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_an_admin_reads_and_downloads_the_export(seeded: Seeded, admin_staff: Staff) -> None:
    client = _signed_in(admin_staff)
    page = client.get(f"/customers/{seeded.customer.pk}/")
    assert f"/customers/{seeded.customer.pk}/export" in page.content.decode()
    response = client.get(f"/customers/{seeded.customer.pk}/export")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"hi, {MARKER} here" in html and PHONE in html
    download = client.get(f"/customers/{seeded.customer.pk}/export.json")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert json.loads(download.content)["customer_id"] == seeded.customer.pk
    assert [e.actor_kind for e in AuditEntry.objects.all()] == ["staff", "staff"]


def test_managers_and_salespeople_may_not_export(
        seeded: Seeded, manager: Staff, salesperson: Staff, make_staff: Any,
        store: Store) -> None:
    for staff in (manager, salesperson):
        client = _signed_in(staff)
        page = client.get(f"/customers/{seeded.customer.pk}/")
        assert page.status_code == 200
        assert "/export" not in page.content.decode()
        for suffix in ("export", "export.json"):
            assert client.get(f"/customers/{seeded.customer.pk}/{suffix}").status_code == 403
    anonymous = Client().get(f"/customers/{seeded.customer.pk}/export")
    assert anonymous.status_code == 302
    assert not AuditEntry.objects.exists()
    assert Role.ADMIN not in (manager.role, salesperson.role)


def test_the_page_speaks_the_admins_language(seeded: Seeded, admin_staff: Staff) -> None:
    admin_staff.language = "pl"
    admin_staff.save()
    html = _signed_in(admin_staff).get(f"/customers/{seeded.customer.pk}/export"
                                       ).content.decode()
    assert "Historia zgód" in html


def test_an_erased_customers_page_still_reads_well(seeded: Seeded, admin_staff: Staff) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    html = _signed_in(admin_staff).get(f"/customers/{seeded.customer.pk}/").content.decode()
    assert f"Customer #{seeded.customer.pk}" in html
    assert "data erased on request" in html  # why the chains ended
    assert MARKER not in html
