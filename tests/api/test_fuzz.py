"""Schemathesis against the API's own OpenAPI document: no 500s, no answer the schema
does not describe (status code, content type, body, headers), no bad input accepted.

Every operation is fuzzed alone (examples, coverage and fuzzing phases), then chained
through the links schemathesis infers from the schema (``POST /customers`` →
``GET /customers/{customer_id}``, ``POST /visits`` → ``POST /purchases`` with its
``visit_id``, …). Requests go in-process through Django's WSGI handler, on the test's
own database connection and inside its transaction, with a store-bound token (and, for
single operations, an unbound one too); nothing listens on a port and nothing reaches
the internet.

Deterministic: Hypothesis is derandomized and keeps no example database, so a run
generates the same cases every time. ``TOUCHFLOW_FUZZ_EXAMPLES`` sets the examples per
operation and the scenarios of the stateful run (default 25)::

    TOUCHFLOW_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/api/test_fuzz.py

Checks left out: ``positive_data_acceptance`` (a schema-valid body may still break a
rule the schema cannot state, such as a phone number that does not exist or a store
slug this deployment does not have: that is a documented 422, not a bug).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import hypothesis
import pytest
import schemathesis
import time_machine
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from tests.api.conftest import ApiClient, problems
from touchflow.api.schemas import PRINTABLE_PATTERN
from touchflow.integrations.actions import create_token
from touchflow.stores.models import Category, Staff, Store

EXAMPLES = int(os.environ.get("TOUCHFLOW_FUZZ_EXAMPLES", "25"))
STEPS = 6  # calls per stateful scenario
# Fewer cases than this for an operation means the fuzz is misconfigured, not lucky.
MIN_CASES = 10
# The clock stands still here: whether a generated time is "in the future" must not
# depend on the day the suite runs.
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

CONFIG = SchemathesisConfig.from_dict({
    "generation": {"deterministic": True, "max-examples": EXAMPLES, "database": "none"},
    "checks": {"positive_data_acceptance": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler(), config=CONFIG)

# The secret of the current test's token (each test makes its own, in its transaction),
# and what its cases are tallied under.
TOKEN = {"secret": "", "who": ""}


@schema.auth(refresh_interval=None)
class _Bearer:
    """Every case carries the token, as auth schemathesis knows to be valid: its
    ``ignored_auth`` check then sends each operation once without it and once with a
    wrong one, and expects 401."""

    def get(self, case: Any, context: Any) -> str:
        return TOKEN["secret"]

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    stateful_step_count=STEPS,
    # The fixtures' store, staff and token are shared by every case; what a case or a
    # scenario writes is rolled back after it (``_rolled_back``).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)

# Cases sent, per token and operation ("METHOD /path") and in chains; printed at the end.
TALLY: Counter[str] = Counter()
CHAINS = "store-bound token: chains of calls"


class _Summary:
    """Prints the tally in pytest's closing summary, so every run states its size."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not TALLY:
            return
        from django.db import connection

        total = sum(TALLY.values())
        terminalreporter.write_sep("-", f"fuzz: {total} cases on {connection.vendor}")
        for label, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{count:6d}  {label}")
        for link, count in sorted(Workflow.followed.items()):
            terminalreporter.write_line(f"{count:6d}  link followed: {link}")


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("touchflow-fuzz-summary"):
        manager.register(_Summary(), "touchflow-fuzz-summary")


@pytest.fixture
def enough_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the operation's test when it sent fewer than ``MIN_CASES`` cases: a fuzz
    that generates nothing passes every check."""
    label = TOKEN["who"] + request.node.name.partition("[")[2].rstrip("]")
    before = TALLY[label]
    yield
    assert TALLY[label] - before >= MIN_CASES, f"{label}: {TALLY[label] - before} cases"


def _operations() -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture
def token(store: Store, salesperson: Staff, categories: list[Category]) -> Iterator[None]:
    """A token bound to a store with a salesperson (``sam``) and two categories, the
    way a till connects."""
    with _serving(store, who="store-bound token: "):
        yield


@pytest.fixture
def unbound_token(store: Store, salesperson: Staff,
                  categories: list[Category]) -> Iterator[None]:
    """A token for every store (a CRM sync): each write must name its store."""
    with _serving(None, who="unbound token: "):
        yield


@contextmanager
def _serving(store: Store | None, who: str) -> Iterator[None]:
    """Requests carry a fresh token (``who`` prefixes their tally), at a standing clock.

    Django closes a connection that is inside a transaction when a request starts or
    finishes; the test's transaction must outlive every request, as Django's test
    client arranges for its own requests.
    """
    _token, TOKEN["secret"] = create_token("fuzz", store=store)
    TOKEN["who"] = who
    request_signals = (signals.request_started, signals.request_finished)
    for signal in request_signals:
        signal.disconnect(close_old_connections)
    try:
        with time_machine.travel(NOW, tick=False):
            yield
    finally:
        for signal in request_signals:
            signal.connect(close_old_connections)


@contextmanager
def _rolled_back() -> Iterator[None]:
    """Undo what the requests inside wrote, so that every case and scenario starts from
    the fixtures alone: a replayed case (Hypothesis replays to shrink a failure) then
    meets the same database and gets the same answers."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_as_documented(case: Any, token: None,
                                               enough_cases: None) -> None:
    _send(case)


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_an_unbound_token_as_documented(
        case: Any, unbound_token: None, enough_cases: None) -> None:
    _send(case)


def _send(case: Any) -> None:
    TALLY[TOKEN["who"] + case.operation.label] += 1
    with _rolled_back():
        case.call_and_validate()


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of calls along the inferred links, every answer checked.

    Random bodies almost never pass the domain's rules (a phone that exists, a staff
    member of the store), so chains would rarely get past their first call. A call
    along a link, and every other first call, therefore goes out as a till would send
    it (``_as_a_till_would``), keeping what the link carried over from the previous
    answer; the other first calls stay as generated, and every operation gets random
    bodies in ``test_every_operation_answers_as_documented``.
    """

    followed: Counter[str] = Counter()

    def setup(self) -> None:
        self.calls = 0
        self.scenario = _rolled_back()
        self.scenario.__enter__()

    def teardown(self) -> None:
        self.scenario.__exit__(None, None, None)

    def step(self, input: StepInput) -> StepOutput:
        TALLY[CHAINS] += 1
        self.calls += 1
        as_sent_by_a_till = input.transition is not None or self.calls % 2 == 0
        if as_sent_by_a_till and isinstance(input.case.body, dict):
            linked = {name for _where, name in input.applied_parameters if name}
            carried = {k: v for k, v in input.case.body.items() if k in linked}
            input.case.body = _as_a_till_would(input.case.operation.label, carried, self.calls)
        output = super().step(input)
        if input.transition is not None and output.response.status_code < 300:
            source = input.transition.id.partition(" -> ")[0]
            Workflow.followed[f"{source} -> {input.case.operation.label}"] += 1
        return output


def _as_a_till_would(operation: str, carried: dict[str, Any], n: int) -> dict[str, Any]:
    """A valid body for ``operation``, keeping the ids a link ``carried`` over."""
    person = {"name": "Anna Nowak", "phone": f"+48 501 {n:06d}", "language": "pl"}
    if operation == "POST /api/v1/customers":
        return {**person, "external_id": f"pos-customer-{n}", "tags": ["vip"]}
    if operation == "POST /api/v1/visits":
        return {"bought": True, "contact_capture": "taken", "staff": "sam",
                "customer": person, "categories": ["sofas"], "external_id": f"pos-visit-{n}"}
    if operation == "POST /api/v1/purchases":
        sale: dict[str, Any] = {"amount": "120.50", "external_id": f"pos-sale-{n}",
                                "items": [{"sku": "S-1", "quantity": 1, "unit_price": "120.50"}]}
        sale.update(carried)
        if "customer_id" not in sale:
            sale["customer"] = {**person, "external_id": f"pos-customer-{n}"}
        return sale
    return carried


def test_every_operation_with_a_body_documents_what_parsing_it_may_answer() -> None:
    """400 (unreadable JSON), 413 (too large) and 415 (not JSON) happen before any
    view runs, on every operation with a body; the fuzz sends such bodies and fails on
    an undocumented status, this names the rule."""
    with_body = [op for op in _operations() if "requestBody" in op.definition.raw]
    assert with_body
    for operation in with_body:
        responses = operation.definition.raw["responses"]
        for status in ("400", "413", "415"):
            ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorOut", (operation.label, status)


@pytest.mark.parametrize(("path", "body", "field", "code"), [
    # A control character anywhere; a leading vertical tab or trailing form feed
    # used to be stripped as space, and the rest accepted.
    ("/customers", {"external_id": "\x0bpos-1"}, "external_id", "invalid_characters"),
    ("/customers", {"external_id": "pos-1\x0c"}, "external_id", "invalid_characters"),
    # The schema says boolean, integer, string: pydantic would read 1, "5" and a Unix
    # time into them.
    ("/visits", {"bought": 1, "contact_capture": "refused"}, "bought", "bool_type"),
    ("/visits", {"bought": True, "contact_capture": "refused", "occurred_at": 1700000000},
     "occurred_at", "datetime_type"),
    ("/purchases", {"amount": "1.00", "customer_id": "5"}, "customer_id", "int_type"),
    ("/purchases", {"amount": "1.00", "customer": {"external_id": "p-1"},
                    "items": [{"unit_price": "1.00", "quantity": "1"}]},
     "items.0.quantity", "int_type"),
    ("/customers", {"external_id": "p-1", "consent": {"contact": "false"}},
     "consent.contact", "bool_type"),
])
def test_what_the_schema_refuses_the_api_refuses(api: ApiClient, path: str, body: dict[str, Any],
                                                 field: str, code: str) -> None:
    """Found by reading the schema against the validators, the fuzz's negative cases
    being unlikely to hit them: each body breaks the OpenAPI document and used to be
    accepted."""
    response = api.post(path, body)
    assert response.status_code == 422
    assert problems(response) == [(field, code)]


def test_the_control_character_pattern_is_the_rule() -> None:
    for text in ("\x0bpos-1", "pos-1\x0c", "a\x00", "\x1f"):
        assert re.fullmatch(PRINTABLE_PATTERN, text) is None, repr(text)
    for text in ("Anna\tNowak", "line\r\nline", "Zoë 😀", ""):
        assert re.fullmatch(PRINTABLE_PATTERN, text), repr(text)


LINKS = {
    ("POST /api/v1/customers", "GET /api/v1/customers/{customer_id}"),
    ("POST /api/v1/customers", "POST /api/v1/purchases"),
    ("POST /api/v1/visits", "POST /api/v1/purchases"),
    ("POST /api/v1/visits", "GET /api/v1/customers/{customer_id}"),
}


def test_links_between_operations_are_known() -> None:
    """The stateful run follows what an integrator does; a schema change that hides
    one of these relations from the fuzzer fails here rather than fuzzing less."""
    inferred = {
        (source, link.target.label)
        for source, transitions in Workflow._transitions.operations.items()
        for link in transitions.outgoing
    }
    assert LINKS - inferred == set()


def test_chains_of_calls_answer_as_documented(token: None) -> None:
    Workflow.followed.clear()
    Workflow.run(settings=SETTINGS)
    assert TALLY[CHAINS] >= EXAMPLES
    # Which links a run follows depends a little on the ids the database hands out
    # (a generated id may hit a customer created earlier in the scenario), so this asks
    # only that chains work at all; test_links_between_operations_are_known says which.
    assert Workflow.followed, "no link was followed to a successful call"
