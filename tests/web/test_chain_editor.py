"""The chain editor in the browser's terms (HTTP): a chain made from nothing, problems
shown next to their fields, steps added and moved, versions saved and activated with
the warnings acknowledged, files exported and loaded, the preview (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from touchflow.flows.models import Flow, FlowActivation, FlowStatus
from touchflow.flows.spec import parse_flow
from touchflow.flows.writer import flow_yaml
from touchflow.funnel.chains import open_warnings
from touchflow.stores.models import Staff

NEW = {
    "steps": "1", "slug": "po-wizycie", "name.pl": "Po wizycie", "name.en": "After a visit",
    "trigger": ["visit"], "visit_class": ["type3"], "exit_on": ["purchase", "opt_out"],
    "s0.key": "podziekowanie", "s0.title.pl": "Podziękowanie", "s0.kind": "gratitude",
    "s0.after": "3h", "s0.expires": "1d", "s0.channel.1": "sms",
    "s0.text.pl": "{{ greeting }} Dziękujemy za wizytę w {{ store.name }}.",
    "action": "save",
}


def _post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data)


def test_a_manager_makes_a_chain_from_nothing(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    assert client.get("/chains/new/").status_code == 200
    response = _post(client, "/chains/new/", NEW)
    assert response.status_code == 302 and response["Location"] == "/chains/po-wizycie/"
    flow = Flow.objects.get(slug="po-wizycie")
    assert (flow.status, flow.version, flow.names) == (
        FlowStatus.DRAFT, 1, {"en": "After a visit", "pl": "Po wizycie"})
    version = flow.versions.get()
    assert version.created_by_id == manager.pk
    assert flow_yaml(parse_flow(version.text)) == version.text  # the canonical text
    step = flow.steps.get()
    assert (step.key, step.titles, step.delay_seconds) == (
        "podziekowanie", {"pl": "Podziękowanie"}, 3 * 3600)
    manager.language = "pl"  # the page in Polish: the Polish name and title
    manager.save(update_fields=["language"])
    page = client.get("/chains/po-wizycie/").content.decode()
    assert "Po wizycie" in page and "Podziękowanie" in page


def test_each_problem_is_shown_next_to_its_field_and_nothing_is_lost(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    bad = {**NEW, "s0.after": "3 hours", "s0.text.pl": "{{ nope }} Dziękujemy."}
    response = _post(client, "/chains/new/", bad)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["s0.after", "s0.text.pl"]
    assert "is not a duration" in form.errors["s0.after"][0]
    assert "unknown variable(s) nope" in form.errors["s0.text.pl"][0]
    page = response.content.decode()
    assert 'value="Po wizycie"' in page and "{{ nope }} Dziękujemy." in page  # kept
    assert not Flow.objects.filter(slug="po-wizycie").exists()


def test_steps_are_added_moved_and_removed_without_saving(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    added = _post(client, "/chains/new/", {**NEW, "action": "add"}).context["form"]
    assert added.steps == 2 and added.get("s1.kind") == "info"
    moved = _post(client, "/chains/new/", {**NEW, **{f"s1.{k[3:]}": v for k, v in NEW.items()
                                                      if k.startswith("s0.")},
                                            "s1.key": "second", "steps": "2",
                                            "action": "up:1"}).context["form"]
    assert (moved.get("s0.key"), moved.get("s1.key")) == ("second", "podziekowanie")
    removed = _post(client, "/chains/new/", {**NEW, "steps": "2", "s1.key": "second",
                                             "action": "remove:0"}).context["form"]
    assert removed.steps == 1 and removed.get("s0.key") == "second"
    assert not Flow.objects.exists()


def test_an_edit_is_a_new_version_activated_with_its_warnings_acknowledged(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    _post(client, "/chains/new/", NEW)
    flow = Flow.objects.get(slug="po-wizycie")
    keys = [w.key for w in open_warnings(flow.versions.get(number=1))]
    client.post("/chains/po-wizycie/versions/1/activate/", {"acknowledged": keys})
    flow.refresh_from_db()
    assert flow.status == FlowStatus.ACTIVE

    form = client.get("/chains/po-wizycie/edit/").context["form"]
    assert form.get("s0.text.pl") == NEW["s0.text.pl"]
    pushy = {**NEW, "s0.text.pl": "{{ greeting }} OSTATNIA SZANSA!!! Musisz kupić dziś."}
    response = _post(client, "/chains/po-wizycie/edit/", pushy)
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.version == 1 and flow.versions.count() == 2  # saved, not running yet
    page = client.get("/chains/po-wizycie/").content.decode()
    assert "/chains/po-wizycie/versions/2/activate/" in page

    activation = client.get("/chains/po-wizycie/versions/2/activate/")
    warnings = activation.context["warnings"]
    assert any(w.check == "tone" for w in warnings)
    refused = client.post("/chains/po-wizycie/versions/2/activate/",
                          {"acknowledged": [w.key for w in warnings[1:]]})
    assert refused.status_code == 200
    flow.refresh_from_db()
    assert flow.version == 1
    client.post("/chains/po-wizycie/versions/2/activate/",
                {"acknowledged": [w.key for w in warnings]})
    flow.refresh_from_db()
    assert flow.version == 2
    history = FlowActivation.objects.filter(flow=flow).first()
    assert history is not None and history.by_id == manager.pk
    assert len(history.acknowledged) == len(warnings)
    assert "Version 2 activated" in client.get("/chains/po-wizycie/versions/").content.decode()


def test_export_and_load_round_trip_exactly(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    _post(client, "/chains/new/", NEW)
    exported = client.get("/chains/po-wizycie/export.yaml")
    assert exported["Content-Disposition"] == 'attachment; filename="po-wizycie.yaml"'
    text = exported.content.decode()
    assert text == Flow.objects.get(slug="po-wizycie").versions.get().text
    changed = text.replace("Dziękujemy za wizytę", "Dziękujemy za odwiedziny")
    upload = SimpleUploadedFile("po-wizycie.yaml", changed.encode(), "application/yaml")
    assert client.post("/chains/import/", {"file": upload}).status_code == 302
    flow = Flow.objects.get(slug="po-wizycie")
    assert flow.versions.count() == 2
    again = client.get("/chains/po-wizycie/export.yaml?version=2").content.decode()
    assert again == changed
    bad = SimpleUploadedFile("bad.yaml", b"slug: x\nsteps: 3\n", "application/yaml")
    page = client.post("/chains/import/", {"file": bad}, follow=True).content.decode()
    assert "bad.yaml:1:" in page


def test_the_preview_renders_measures_and_checks_the_tone(
    login_client: Callable[[Staff], Client], manager: Staff,
) -> None:
    client = login_client(manager)
    response = client.post("/chains/preview/", {
        "language": "pl", "s0.text.pl": "{{ greeting }} Ostatnia szansa! Tylko dziś.",
        "s0.channel.1": "sms"})
    page = response.content.decode()
    assert "Dzień dobry, Anna!" in page  # the sample customer
    assert "segment" in page
    assert response.context["flags"]
    calm = client.post("/chains/preview/", {"language": "pl", "s0.channel.1": "sms",
                                            "s0.text.pl": "Dziękujemy za wizytę."})
    assert calm.context["flags"] == [] and "tone-ok" in calm.content.decode()
    broken = client.post("/chains/preview/", {"language": "en", "s0.text.en": "{{ nope.x }}"})
    assert "Template error" in broken.content.decode()


def test_a_salesperson_may_not_edit_chains(
    login_client: Callable[[Staff], Client], salesperson: Staff,
) -> None:
    client = login_client(salesperson)
    assert client.get("/chains/new/").status_code == 403
    assert _post(client, "/chains/new/", NEW).status_code == 403
    assert client.post("/chains/preview/", {"text": "x"}).status_code == 403
    assert not Flow.objects.exists()
