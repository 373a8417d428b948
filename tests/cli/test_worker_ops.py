"""``touchflow worker --log-format json`` and ``--metrics-port``: what an operator asks of a
running worker (issue 9)."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tests.delivery.conftest import Clock
from tests.servers import free_port
from touchflow.cli import build_app
from touchflow.core import logs
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.models import Store

DUE = "2026-06-02T15:00:00+00:00"  # the warming chain's thank-you


@pytest.fixture(autouse=True)
def _root_handlers_restored() -> Iterator[None]:
    """The worker changes the process's log handlers for good; a test must not."""
    root = logging.getLogger()
    before = [(h, h.formatter) for h in root.handlers]
    yield
    for handler in root.handlers[:]:
        if handler not in [h for h, _f in before]:
            root.removeHandler(handler)
    for handler, formatter in before:
        handler.setFormatter(formatter)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A plain stderr-like handler on the root logger, as settings.LOGGING makes one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["worker", *args])
    return result.exit_code, result.output


# -- JSON log lines ----------------------------------------------------------------------


def test_a_json_line_carries_time_level_logger_message_and_the_extra_fields() -> None:
    record = logging.LogRecord(
        "touchflow.delivery.dispatcher", logging.WARNING, __file__, 1, "%s touches wait",
        (3,), None,
    )
    record.created = datetime(2026, 6, 2, 12, 0, 0, 250000, tzinfo=UTC).timestamp()
    record.store = "krakow"
    record.when = datetime(2026, 6, 2, tzinfo=UTC)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-06-02T12:00:00.250+00:00",
        "level": "WARNING",
        "logger": "touchflow.delivery.dispatcher",
        "message": "3 touches wait",
        "store": "krakow",
        "when": "2026-06-02 00:00:00+00:00",
    }


def test_a_json_line_holds_the_traceback_of_an_exception() -> None:
    try:
        raise RuntimeError("provider said no\nsecond line")
    except RuntimeError:
        record = logging.LogRecord("touchflow", logging.ERROR, __file__, 1, "round failed",
                                   None, sys.exc_info())
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "round failed"
    assert entry["exception"].startswith("Traceback")
    assert entry["exception"].endswith("RuntimeError: provider said no\nsecond line")


def test_json_replaces_the_format_of_the_plain_handlers_only_and_can_be_undone(
    captured: io.StringIO, caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("touchflow.test")
    undo = logs.configure("json")
    log.warning("hello %s", "there", extra={"touch": 42})
    undo()
    log.warning("plain again")
    first, second = captured.getvalue().splitlines()
    entry = json.loads(first)
    assert (entry["message"], entry["touch"], entry["logger"]) == ("hello there", 42, log.name)
    assert second == "plain again"
    # pytest's own capture handler kept its format.
    assert caplog.records[0].getMessage() == "hello there"
    assert not caplog.text.lstrip().startswith("{")


def test_text_leaves_logging_as_settings_made_it(captured: io.StringIO) -> None:
    logs.configure("text")()
    logging.getLogger("touchflow.test").warning("as before")
    assert captured.getvalue() == "as before\n"


def test_an_unknown_log_format_is_refused_naming_the_option(db: None) -> None:
    with pytest.raises(ValueError, match="--log-format: must be one of text, json, not 'xml'"):
        logs.configure("xml")
    code, output = invoke("--once", "--log-format", "xml")
    assert code == 2
    assert "--log-format: must be one of text, json, not 'xml'" in output


@pytest.mark.usefixtures("flows")
def test_the_worker_writes_its_warnings_as_json_lines_when_asked(
    store: Store, make_store: Callable[..., Store], clock: Clock, settings: object,
    captured: io.StringIO,
) -> None:
    # Kraków has no channel at all: its lead's touch waits, and the round says so.
    krakow = make_store(name="Kraków", slug="krakow")
    row = ChannelAccount(store=store, provider="telegram", handle="warsaw_bot")
    row.credentials = {"token": "123:ABC"}
    row.save()
    accounts.forget()
    log_visit(
        store=krakow, actor=Actor(source="counter"), bought=False, reason="just_looking",
        contact_capture="taken", contacts=[check_contact("phone", "601 234 567", region="PL")],
        consent=ConsentGrant(),
    )
    settings.TOUCHFLOW_CHANNELS = ""  # type: ignore[attr-defined]
    code, output = invoke("--once", "--now", DUE, "--log-format", "json")
    accounts.forget()
    assert code == 0, output
    [line] = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["logger"]) == ("WARNING", "touchflow.delivery.dispatcher")
    assert entry["message"].startswith("1 touch(es) wait in the queue: no channel configured")


# -- the metrics port --------------------------------------------------------------------


def test_a_one_off_run_serves_metrics_while_it_runs_and_frees_the_port(
    db: None, settings: object
) -> None:
    settings.TOUCHFLOW_CHANNELS = "email=null:"  # type: ignore[attr-defined]
    port = free_port()
    code, output = invoke("--once", "--metrics-port", str(port))
    assert code == 0, output
    assert f"metrics on http://127.0.0.1:{port}/metrics" in output
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the worker let it go


def test_a_metrics_port_already_taken_is_refused_naming_the_option(
    db: None, settings: object
) -> None:
    settings.TOUCHFLOW_CHANNELS = "email=null:"  # type: ignore[attr-defined]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = invoke("--once", "--metrics-port", str(port))
    assert code == 2
    assert f"--metrics-port: cannot listen on 127.0.0.1:{port}" in output
