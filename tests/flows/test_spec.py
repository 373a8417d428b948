"""Chain files: what is accepted, and what is refused with its line."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from touchflow.core.durations import format_duration, parse_duration
from touchflow.flows.actions import load_flow_dir, load_flow_text
from touchflow.flows.models import Flow, FlowStep
from touchflow.flows.spec import FlowFileError, parse_flow
from touchflow.funnel.chains import set_status

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"

GOOD = """\
slug: demo
name: Demo chain
audience:
  trigger: visit
  visit_class: [type3]
exit_on: [purchase]
steps:
  - key: hello
    kind: info
    after: 1d12h
    at: "10:30"
    channels: [sms, email]
    message:
      en: {subject: "Hi", text: "Hello {{ customer.first_name }}"}
  - key: call
    kind: call
    after: 2d
    from: entry
    script:
      en: "Call {{ customer.name }}"
"""


def test_the_shipped_examples_are_valid_in_three_languages() -> None:
    slugs = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = parse_flow(path.read_text(), str(path))
        slugs[spec.slug] = [s.key for s in spec.steps]
        for step in spec.steps:
            assert set(step.messages) == {"en", "ru", "pl"}, (path, step.key)
    assert slugs == {
        "check-in": ["is-everything-ok"],
        "loyalty": ["care-tips", "referral", "anniversary-offer"],
        "referral": ["bring-a-friend"],
        "review": ["leave-a-review"],
        "warming": ["thank-you", "how-to-choose", "seller-call", "gentle-offer"],
    }


def test_a_good_chain_is_read_completely() -> None:
    spec = parse_flow(GOOD)
    assert (spec.slug, spec.triggers, spec.visit_classes, spec.exit_on) == (
        "demo",
        ("visit",),
        ("type3",),
        ("purchase", "opt_out"),
    )
    hello, call = spec.steps
    assert (hello.delay, hello.send_at, hello.anchor, hello.channels, hello.expires) == (
        timedelta(days=1, hours=12),
        time(10, 30),
        "previous",
        ("sms", "email"),
        timedelta(days=3),
    )
    assert (hello.commercial, hello.when_capped, hello.messages["en"].subject) == (
        False,
        "defer",
        "Hi",
    )
    assert (call.kind, call.anchor, call.channels, call.messages["en"].text) == (
        "call",
        "entry",
        (),
        "Call {{ customer.name }}",
    )


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        ("slug: demo", "slug: Demo Chain", 1, "'slug'"),
        ("visit_class: [type3]", "visit_class: [type7]", 5, "unknown value 'type7'"),
        ("exit_on: [purchase]", "exit_on: [sunset]", 6, "unknown value 'sunset'"),
        ("after: 1d12h", "after: soon", 10, "is not a duration"),
        ('at: "10:30"', 'at: "25:00"', 11, "not a time of day"),
        ("channels: [sms, email]", "channels: [sms, pigeon]", 12, "unknown value 'pigeon'"),
        ("kind: info", "kind: spam", 9, "'kind' must be one of"),
        ("{{ customer.first_name }}", "{{ customer.password }}", 14,
         "unknown variable(s) customer.password"),
        (
            "{{ customer.first_name }}",
            "{{ settings.SECRET_KEY }}",
            14,
            "unknown variable(s) settings",
        ),
        ("{{ customer.first_name }}", "{{ customer.first_name ", 14, "template error"),
        ('subject: "Hi", ', "", 14, "needs a 'subject'"),
        ("    from: entry", "    from: yesterday", 18, "'from' must be"),
        (
            "    kind: call",
            "    kind: call\n    channels: [sms]",
            17,
            "a call step has no channels",
        ),
        ("  - key: call", "  - key: hello", 15, "used twice"),
        ("name: Demo chain", "name: Demo chain\ncolour: blue", 3, "unknown key 'colour'"),
    ],
)
def test_a_bad_chain_names_the_line_and_what_is_wrong(
    replace: str, by: str, line: int, message: str
) -> None:
    assert replace in GOOD
    with pytest.raises(FlowFileError) as err:
        parse_flow(GOOD.replace(replace, by, 1), "flows/demo.yaml")
    found = [(p.line, p.message) for p in err.value.problems]
    assert any(n == line and message in text for n, text in found), found
    assert f"flows/demo.yaml:{line}: " in str(err.value)


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(FlowFileError) as err:
        parse_flow("slug: x\nname: [unclosed\nsteps: []\n", "x.yaml")
    assert err.value.problems[0].line in (2, 3)
    assert "not valid YAML" in err.value.problems[0].message


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(FlowFileError) as err:
        parse_flow(GOOD.replace("name: Demo chain", "name: Demo chain\nname: Again"))
    assert err.value.problems[0].line == 3
    assert "duplicate key 'name'" in err.value.problems[0].message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2d", 172800), ("1w", 604800), ("3h", 10800), ("1d12h", 129600), ("90m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["", "2", "d2", "2x", "-1d", 5])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


def test_loading_a_folder_reports_bad_files_and_loads_the_rest(tmp_path: Path, db: None) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(
        GOOD.replace("slug: demo", "slug: other").replace("kind: info", "kind: spam")
    )
    results, errors = load_flow_dir(tmp_path)
    assert [r.flow.slug for r in results] == ["demo"]
    assert [(e.source, e.problems[0].line) for e in errors] == [(str(tmp_path / "bad.yaml"), 9)]
    assert list(Flow.objects.values_list("slug", flat=True)) == ["demo"]


def test_reloading_keeps_the_database_in_step_with_the_file(db: None) -> None:
    first = load_flow_text(GOOD, "demo.yaml")
    assert (first.created, first.flow.version, first.flow.status) == (True, 1, "draft")
    assert load_flow_text(GOOD, "demo.yaml").changed is False
    set_status(first.flow, "active")
    changed = GOOD.replace("after: 1d12h", "after: 2d").replace(
        "  - key: call\n    kind: call\n    after: 2d\n    from: entry\n    script:\n"
        '      en: "Call {{ customer.name }}"\n',
        "",
    )
    second = load_flow_text(changed, "demo.yaml")
    assert (second.created, second.changed, second.flow.version) == (False, True, 2)
    assert second.flow.status == "active"  # the file says nothing about status
    steps = {s.key: (s.delay_seconds, s.retired) for s in FlowStep.objects.all()}
    assert steps == {"hello": (172800, False), "call": (172800, True)}
