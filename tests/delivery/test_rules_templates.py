"""Issue 13: a template that passes ``flows validate`` renders at send time, because the
validation sample and the send context are one definition (``templates.message_context``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.cli import build_app
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.delivery.render import Renderer, TemplateFailed
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import FlowStep
from touchflow.flows.spec import FlowFileError, parse_flow
from touchflow.flows.templates import VARIABLES
from touchflow.funnel.chains import set_status
from touchflow.visits.models import Visit

STEP_ONLY = ("rating_url", "referral_code", "referral_url", "review_url")
CHAIN = """\
slug: rules
name: Rules chain
audience:
  trigger: visit
  visit_class: [type3]
steps:
  - key: hello
    kind: info
    after: 1h
    channels: [sms]
    message:
      en:
        text: "{{ greeting }} from {{ store.name }}"
      pl:
        text: "TEXT"
"""


def _chain(pl_text: str) -> str:
    return CHAIN.replace("TEXT", pl_text)


def _problems(text: str) -> list[str]:
    with pytest.raises(FlowFileError) as err:
        parse_flow(text, "flows/rules.yaml")
    return [f"{p.line}: {p.message}" for p in err.value.problems]


def test_store_phone_fails_validation_naming_chain_step_language_and_variable() -> None:
    assert _problems(_chain("Zadzwoń: {{ store.phone }}")) == [
        "15: chain 'rules', step 'hello', message.pl.text: unknown variable(s) store.phone; "
        "available: customer.first_name, customer.name, greeting, rating_url, referral_code, "
        "referral_url, review_url, seller.first_name, seller.name, store.name, unsubscribe_url"
    ]


def test_flows_validate_says_so_and_fails(tmp_path: Path) -> None:
    """The command an author runs: exit 1, and the line says chain, step, language, variable."""
    path = tmp_path / "rules.yaml"
    path.write_text(_chain("Zadzwoń: {{ store.phone }}"), encoding="utf-8")
    result = CliRunner().invoke(build_app(), ["flows", "validate", str(path)],
                                terminal_width=400)
    assert result.exit_code == 1
    assert (f"{path}:15: chain 'rules', step 'hello', message.pl.text: unknown variable(s) "
            "store.phone;") in result.stderr.replace("\n", "")


@pytest.mark.parametrize(
    ("template", "variable"),
    [
        ("{{ store['phone'] }}", "store.phone"),
        ("{{ customer.email }}", "customer.email"),
        ("{% if seller.phone %}x{% endif %}", "seller.phone"),
    ],
)
def test_every_way_of_reaching_a_missing_attribute_is_caught(
    template: str, variable: str
) -> None:
    (problem,) = _problems(_chain(template))
    assert f"message.pl.text: unknown variable(s) {variable};" in problem


def test_what_validation_offers_is_exactly_what_messages_have() -> None:
    assert VARIABLES == (
        "customer.first_name", "customer.name", "greeting", "rating_url", "referral_code",
        "referral_url", "review_url", "seller.first_name", "seller.name", "store.name",
        "unsubscribe_url",
    )
    # These belong to particular steps (test_spec_answers).
    parse_flow(_chain(" ".join(f"{{{{ {v} }}}}" for v in VARIABLES if v not in STEP_ONLY)))


def test_the_renderer_names_the_missing_variable() -> None:
    with pytest.raises(TemplateFailed) as err:
        Renderer().render(
            {"en": {"text": "Call {{ store.phone }}"}}, "en", "en", {"store": {"name": "X"}},
            "sms",
        )
    assert str(err.value) == "unknown variable store.phone"


def _load(text: str) -> None:
    set_status(load_flow_text(text, "flows/rules.yaml").flow, "active")


def test_a_template_using_every_variable_renders_at_send_time(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, sink: tuple[Sink, str],
) -> None:
    """Everything validation let through is there when the real worker sends."""
    # rating_url, referral_* and review_url belong to particular steps (tests/aftercare).
    _load(_chain("|".join(f"{{{{ {v} }}}}" for v in VARIABLES if v not in STEP_ONLY)))
    visit = type3_visit(name="Anna Nowak")
    clock.move_to(datetime(2026, 6, 2, 13, 0, tzinfo=UTC))
    assert dict(make_dispatcher().drain().outcomes) == {"sent": 1}
    url = f"http://127.0.0.1:8000/u/{visit.customer_id}.sms."
    text = sink[0].received[0]["text"]
    assert text.startswith("Anna|Anna Nowak|Dzień dobry, Anna!|sam|sam|Warsaw Centre|" + url)


def test_a_stored_template_that_fails_at_send_time_keeps_its_reason(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, sink: tuple[Sink, str],
) -> None:
    """A chain stored before validation knew better: the dead letter says why, in words
    the dead-letter page groups by (issue 13; the engine keeps ``last_error``)."""
    _load(_chain("Hej"))
    FlowStep.objects.filter(key="hello").update(
        messages={"pl": {"text": "Zadzwoń: {{ store.phone }}"}}
    )
    type3_visit()
    clock.move_to(datetime(2026, 6, 2, 13, 0, tzinfo=UTC))
    make_dispatcher().drain()
    touch = Touch.objects.get()
    assert (touch.state, touch.last_error) == ("dead", "template: unknown variable store.phone")
    assert sink[0].received == []
