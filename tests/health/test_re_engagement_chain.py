"""The example re-engagement chain (``flows/examples/re-engagement/``): entered only by a
manager's action on a segment — its trigger is "manual", which no event matches.

``flows.spec`` does not know "manual" yet (decision 0024, "Not yet"): until it does, these
tests add it to the triggers they parse with, and the file stays out of the examples
folder the demo, the replay and the engine's tests load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.flows.test_example_texts import BROKEN, _context
from tests.health.conftest import TODAY, People
from touchflow.delivery.models import Touch
from touchflow.delivery.render import Renderer
from touchflow.flows import spec
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment, Flow
from touchflow.funnel.chains import set_status
from touchflow.health.actions import enrol_cold, refresh
from touchflow.stores.models import Store

FILE = (Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"
        / "re-engagement" / "re-engagement.yaml")


def test_the_chain_speaks_three_languages_and_reads_well_without_a_name() -> None:
    chain = spec.parse_flow(FILE.read_text(encoding="utf-8"), str(FILE))

    assert (chain.slug, chain.triggers, chain.exit_on) == (
        "re-engagement", ("manual",), ("purchase", "opt_out", "unhappy"))
    assert [(s.key, s.kind, s.commercial) for s in chain.steps] == [
        ("how-are-you", "info", False), ("manager-call", "call", False),
        ("welcome-back-offer", "offer", True)]
    renderer = Renderer()
    for step in chain.steps:
        messages = {lang: {"subject": m.subject, "text": m.text}
                    for lang, m in step.messages.items()}
        assert set(messages) == {"en", "ru", "pl"}
        for language in ("en", "ru", "pl"):
            for name in ("Anna Nowak", ""):
                channel = "call" if step.is_call else "email"
                rendered = renderer.render(messages, language, "en", _context(name, ""),
                                           channel)
                for text in (rendered.subject, rendered.text):
                    for pattern, what in BROKEN:
                        assert not pattern.search(text), (step.key, language, what, text)


@pytest.fixture
def chain(db: None) -> Flow:
    return set_status(load_flow_text(FILE.read_text(encoding="utf-8"), str(FILE)).flow,
                      "active")


def test_a_manager_enrols_the_cold_and_no_event_enters_anyone(
        store: Store, people: People, chain: Flow) -> None:
    cold = people.buys(store, people.customer(store), 60, 50, 40, 30)
    people.buys(store, people.customer(store), 25, 15, 5)  # in rhythm
    people.visits(store, "+48501000321", 1)  # a visit: no chain entered by it
    refresh(store, TODAY)

    done = enrol_cold(store, "buyers", chain, datetime(2026, 6, 2, 12, 0, tzinfo=UTC))

    assert (done.cold, done.entered) == (1, 1)
    assert list(Enrollment.objects.values_list("customer_id", "flow__slug")) == [
        (cold.pk, "re-engagement")]
    # The first message at 11:00 on the customer's clock, the next morning in Warsaw.
    first = Touch.objects.get()
    assert first.due_at == datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
