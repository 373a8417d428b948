"""A chain's text as the one source of truth: written out and read back exactly,
saved as versions, run at the version it was activated at, and checked before it runs
(issue 12)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import translation

from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.delivery.models import Touch
from touchflow.flows import checks
from touchflow.flows.actions import save_version
from touchflow.flows.models import Flow, FlowActivation, FlowStatus
from touchflow.flows.spec import parse_flow
from touchflow.flows.writer import flow_yaml
from touchflow.funnel.chains import Unacknowledged, activate, open_warnings
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples")
                  .rglob("*.yaml"))

RICH = """\
slug: rich
name:
  en: After a visit
  pl: Po wizycie
  ru: После визита
description: {pl: "Dla tych, którzy nie kupili: pomoc, potem jedna oferta."}
audience:
  trigger: [visit]
  visit_class: [type3, type4]
  categories: [sofas]
exit_on: [purchase, unhappy]
steps:
  - key: hello
    title: {en: "Thanks", pl: "Podziękowanie"}
    kind: gratitude
    after: 1d12h
    from: entry
    at: "11:30"
    window: ["09:00", "20:00"]
    channels: [telegram, sms, email]
    expires: 2d
    when_capped: skip
    commercial: true
    message:
      en:
        subject: 'Thanks: "{{ store.name }}" #1'
        text: |
          {{ greeting }} thanks for coming in.
            An indented line, a colon: here, and 'quotes'.
      pl:
        subject: Dziękujemy
        text: "{{ greeting }} Dziękujemy!"
  - key: how-was-it
    title: How was it?
    kind: check_in
    after: 3d
    channels: [sms]
    answers: scale
    message:
      en:
        text: "{{ greeting }} how is it going? {{ rating_url }}"
  - key: call
    kind: call
    after: 2h
    assignee: manager
    expires: 1w
    script:
      en: "Ask how {{ customer.first_name }} is getting on."
      ru: "Спросите, как дела."
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_chain_is_written_out_and_read_back_exactly(path: Path) -> None:
    spec = parse_flow(path.read_text(encoding="utf-8"), str(path))
    written = flow_yaml(spec)
    again = parse_flow(written, "written")
    assert again == spec
    assert flow_yaml(again) == written


def test_every_part_of_a_chain_survives_the_round_trip() -> None:
    spec = parse_flow(RICH)
    assert spec.names == {"en": "After a visit", "pl": "Po wizycie", "ru": "После визита"}
    assert spec.steps[0].titles == {"en": "Thanks", "pl": "Podziękowanie"}
    assert spec.steps[1].titles == {"": "How was it?"}
    written = flow_yaml(spec)
    assert parse_flow(written) == spec
    assert flow_yaml(parse_flow(written)) == written


def test_a_chain_name_and_step_titles_show_in_the_page_language(db: None) -> None:
    flow = save_version(RICH, by=None).flow
    step = flow.steps.get(key="hello")
    with translation.override("pl"):
        assert (flow.title, flow.about, step.title) == (
            "Po wizycie", "Dla tych, którzy nie kupili: pomoc, potem jedna oferta.",
            "Podziękowanie")
    with translation.override("ru"):
        assert (flow.title, step.title, flow.steps.get(key="call").title) == (
            "После визита", "Thanks", "call")
    with translation.override("en"):
        assert str(flow) == "After a visit"


WARMING = """\
slug: warm
name: Warming
audience: {trigger: visit, visit_class: [type3]}
exit_on: [purchase]
steps:
  - key: tip
    kind: info
    after: 1h
    channels: [sms]
    message: {en: {text: "{{ greeting }} a tip: measure twice."}}
  - key: idea
    kind: info
    after: 2d
    channels: [sms]
    message: {en: {text: "{{ greeting }} an idea for your room."}}
"""


def _type3_visit(store: Store, staff: Staff) -> None:
    log_visit(store=store, actor=Actor(source="counter", staff=staff), bought=False,
              reason="just_looking", contact_capture="taken",
              contacts=[check_contact("phone", "501 234 567", region="PL")], name="Anna Nowak",
              consent=ConsentGrant(contact=True, marketing=False))


def test_an_edit_of_a_running_chain_waits_for_activation_and_enrolled_customers_go_on(
    store: Store, salesperson: Staff, manager: Staff,
) -> None:
    first = save_version(WARMING, by=manager.pk)
    flow = first.flow
    assert (first.number, flow.status, flow.version) == (1, FlowStatus.DRAFT, 1)
    activate(first, by=manager.pk)
    _type3_visit(store, salesperson)
    touch = Touch.objects.get(enrollment__flow=flow)
    assert touch.step.key == "tip"

    edited = WARMING.replace("a tip: measure twice.", "a tip: measure the doorway too.")
    second = save_version(edited, by=manager.pk)
    assert second.number == 2 and save_version(edited, by=manager.pk) == second  # same text
    flow.refresh_from_db()
    assert flow.version == 1  # still running what was activated
    assert "measure twice" in flow.steps.get(key="tip").messages["en"]["text"]

    activate(second, by=manager.pk)
    flow.refresh_from_db()
    touch.refresh_from_db()
    assert (flow.version, flow.status) == (2, FlowStatus.ACTIVE)
    assert touch.step.key == "tip" and touch.state == "queued"  # the same step, by key
    assert "doorway" in touch.step.messages["en"]["text"]
    assert [a.version.number for a in FlowActivation.objects.filter(flow=flow)] == [2, 1]


def test_activation_with_open_warnings_needs_each_acknowledged(
    store: Store, manager: Staff,
) -> None:
    pushy = WARMING.replace("kind: info\n    after: 1h", "kind: offer\n    after: 1h").replace(
        "a tip: measure twice.", "LAST CHANCE!!! Hurry, only 2 left.")
    version = save_version(pushy, by=manager.pk)
    found = open_warnings(version)
    assert {w.check for w in found} >= {"offer_first", "commercial_share", "tone"}
    with pytest.raises(Unacknowledged) as refused:
        activate(version, by=manager.pk, acknowledged=[w.key for w in found[1:]])
    assert [w.key for w in refused.value.open] == [found[0].key]
    assert Flow.objects.get(pk=version.flow_id).status == FlowStatus.DRAFT

    activate(version, by=manager.pk, acknowledged=[w.key for w in found])
    history = FlowActivation.objects.get(flow_id=version.flow_id)
    assert history.by_id == manager.pk
    assert [r["check"] for r in history.acknowledged] == [w.check for w in found]


@translation.override("en")
def test_the_chain_checks() -> None:
    spec = parse_flow(WARMING)
    assert checks.shape(spec) == []
    offers = parse_flow(WARMING.replace("kind: info", "kind: offer"))
    assert [w.check for w in checks.shape(offers)] == ["commercial_share", "offer_first"]
    second_sells = parse_flow(WARMING.replace("kind: info\n    after: 2d",
                                              "kind: offer\n    after: 2d"))
    assert [w.check for w in checks.shape(second_sells)] == ["commercial_share"]  # 1 of 2

    week = checks.Caps(messages=1, commercial=1, period=timedelta(days=7))
    loose = checks.Caps(messages=5, commercial=2, period=timedelta(days=7))
    assert [w.check for w in checks.shape(spec, [loose])] == []
    assert [w.check for w in checks.shape(spec, [loose, week])] == ["caps"]  # 2 in 2 days

    assert checks.shape(spec, warming_days=3) == []  # 1h + 2d: two days and an hour
    too_long = checks.shape(spec, warming_days=2)
    assert [w.check for w in too_long] == ["too_long"] and "runs for 3 days" in too_long[0].message
    for audience in ("{trigger: purchase}", "{trigger: [purchase, visit], visit_class: [type1]}",
                     "{trigger: visit, visit_class: [type1, type2]}"):
        buyers = parse_flow(WARMING.replace("{trigger: visit, visit_class: [type3]}", audience))
        assert checks.shape(buyers, warming_days=1) == [], audience
