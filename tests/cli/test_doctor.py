"""``touchflow doctor``: each check says OK, WARN or FAIL with what to do, and the command
exits 1 when something FAILs. Real database, driven clock, real local servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.migrations.recorder import MigrationRecorder
from typer.testing import CliRunner

from tests.conftest import assert_no_stranded_enrollments
from tests.delivery.conftest import Clock
from tests.servers import Sink, SmtpInbox, free_port
from touchflow.cli import build_app
from touchflow.core import references
from touchflow.customers.models import Customer
from touchflow.delivery.models import Touch
from touchflow.delivery.segments import stranded_enrollments
from touchflow.flows.models import Enrollment, Flow
from touchflow.funnel.chains import set_status
from touchflow.messaging import accounts, crypto
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.models import Store
from touchflow.visits.models import Visit

pytestmark = pytest.mark.usefixtures("flows")

DUE = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # the warming chain's thank-you
KEY = crypto.new_key()


@pytest.fixture(autouse=True)
def deployment(
    settings: Any, sink: tuple[Sink, str], smtp: tuple[SmtpInbox, str]
) -> Iterator[None]:
    """A deployment set up as the README says: own secrets, a channel for each step."""
    settings.SECRET_KEY = "a-long-random-secret-key-for-the-doctor-tests-0123456789"
    settings.TOUCHFLOW_CREDENTIALS_KEY = KEY
    settings.TOUCHFLOW_CHANNELS = f"sms={sink[1]};email={smtp[1]}"
    settings.DEBUG = False
    accounts.forget()
    yield
    accounts.forget()


def doctor(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(build_app(), ["doctor", *args], catch_exceptions=False)
    return result.exit_code, result.output.splitlines()


def finding(lines: list[str], start: str) -> str:
    [line] = [ln for ln in lines if ln.startswith(start)]
    return line


def fix_after(lines: list[str], start: str) -> str:
    return lines[lines.index(finding(lines, start)) + 1].strip()


def warming(visit: Visit) -> Enrollment:
    return Enrollment.objects.get(customer_id=visit.customer_id, flow__slug="warming")


def test_a_healthy_deployment_is_all_ok(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    type3_visit()
    code, lines = doctor()
    assert code == 0, lines
    assert lines == [
        "OK   settings: secret key and credentials key are set",
        "OK   channels: TOUCHFLOW_CHANNELS: sms, email",
        "OK   database: " + lines[2].removeprefix("OK   database: "),
        "OK   accounts: no provider account configured",
        "OK   coverage: every store has a channel for every step of the active chains",
        "OK   queue: nothing due now",
        "OK   enrollments: every active enrollment has an open touch",
        f"OK   references: the {len(references.unchecked())} references the database does "
        "not check all point at a row",
        # Messages go out through TOUCHFLOW_CHANNELS; a manager's alert needs a store
        # account and a manager (aftercare escalations): said, not failed.
        "WARN alerts: Warsaw Centre: no manager would be told about an unhappy customer "
        "(escalations still show on /escalations/)",
        lines[-1],
    ]
    assert lines[-1].strip().startswith("→ Give the store a manager with an e-mail address")
    assert lines[2].endswith("reachable, every migration applied")


# -- enrollments (issue 13) --------------------------------------------------------------


def test_an_enrollment_left_without_an_open_touch_fails(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    kept, lost = type3_visit(), type3_visit(phone="601 234 567", name="Ewa")
    # Made on purpose: the lost lead's only touch ends, and nothing schedules the next.
    Touch.objects.filter(enrollment=warming(lost)).update(state="cancelled", reason="test")
    assert list(stranded_enrollments()) == [warming(lost)]
    code, lines = doctor()
    assert code == 1
    line = finding(lines, "FAIL enrollments: ")
    assert line == (
        f"FAIL enrollments: 1 active enrollment(s) have no open touch (ids {warming(lost).pk}): "
        "nothing will send their next step or complete them"
    )
    assert fix_after(lines, "FAIL enrollments: ") == (
        "→ This is a Touchflow bug: report it with these ids."
    )
    assert warming(kept).pk not in stranded_enrollments().values_list("pk", flat=True)
    with pytest.raises(AssertionError, match="without an open touch"):
        assert_no_stranded_enrollments()


def test_a_reference_the_database_does_not_check_is_checked_by_the_doctor(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    visit = type3_visit()
    assert visit.customer is not None
    fields = {f"{f.model._meta.app_label}.{f.model.__name__}.{f.name}"
              for f in references.unchecked()}
    # The store references every sale and import writes (decision 0006) are among them.
    assert {"purchases.Purchase.store", "customers.Customer.home_store",
            "customers.CustomerStore.store", "timeline.TimelineEvent.purchase"} <= fields
    # A store removed around Touchflow, by SQL: its customer's home store points at nothing.
    Customer.objects.filter(pk=visit.customer.pk).update(home_store_id=999_999)
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL references: ") == (
        "FAIL references: customers.Customer.home_store: 1 row(s) point at nothing "
        f"(ids {visit.customer.pk})"
    )


def test_a_paused_chain_and_an_ended_enrollment_are_not_stranded(
    type3_visit: Callable[..., Visit], clock: Clock, flows: dict[str, Flow]
) -> None:
    paused, ended = type3_visit(), type3_visit(phone="601 234 567", name="Ewa")
    Touch.objects.filter(enrollment=warming(paused)).update(state="paused", reason="flow_paused")
    Enrollment.objects.filter(pk=warming(ended).pk).update(state="completed", ended_at=DUE)
    Touch.objects.filter(enrollment=warming(ended)).update(state="sent", finished_at=DUE)
    set_status(flows["warming"], "paused")
    assert list(stranded_enrollments()) == []
    assert_no_stranded_enrollments()


# -- the queue ---------------------------------------------------------------------------


def test_a_queue_behind_warns_and_a_stuck_one_fails(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    type3_visit()
    clock.move_to(DUE + timedelta(minutes=15))
    code, lines = doctor()
    assert code == 0
    assert finding(lines, "WARN queue: ") == (
        "WARN queue: 1 touch(es) due now, the oldest due 15 min ago"
    )
    clock.move_to(DUE + timedelta(hours=3))
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL queue: ") == (
        "FAIL queue: 1 touch(es) due now, the oldest due 3 h ago"
    )
    assert fix_after(lines, "FAIL queue: ").startswith("→ Is a worker running?")


def test_dead_letters_and_uncertain_touches_of_the_last_day_warn(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    visits = [type3_visit(phone=f"50{i} 234 567", name=f"N{i}") for i in range(1, 5)]
    now = clock.now()
    for visit, state, age in zip(
        visits, ("dead", "dead", "uncertain", "dead"), (1, 5, 23, 25), strict=True
    ):
        Touch.objects.filter(customer_id=visit.customer_id).update(
            state=state, finished_at=now - timedelta(hours=age)
        )
    _code, lines = doctor()
    assert finding(lines, "WARN queue: ") == (
        "WARN queue: last 24 h: 2 dead letter(s), 1 touch(es) not known to be sent"
    )
    assert "Dead letters page" in fix_after(lines, "WARN queue: ")


def test_touches_waiting_for_a_channel_warn_with_how_to_fix(
    type3_visit: Callable[..., Visit], clock: Clock
) -> None:
    visit = type3_visit()
    Touch.objects.filter(customer_id=visit.customer_id).update(reason="no_channel")
    _code, lines = doctor()
    assert finding(lines, "WARN queue: ") == (
        "WARN queue: 1 touch(es) wait for a channel (no_channel)"
    )
    assert "TOUCHFLOW_CHANNELS" in fix_after(lines, "WARN queue: ")


# -- accounts ----------------------------------------------------------------------------


def account(store: Store, provider: str, credentials: dict[str, str], **fields: str) -> None:
    row = ChannelAccount(store=store, provider=provider, **fields)
    row.credentials = credentials
    row.save()


def test_each_account_is_checked_for_what_its_provider_needs(store: Store, settings: Any) -> None:
    account(store, "telegram", {"secret_token": "s"}, handle="shop_bot")
    account(store, "twilio", {"account_sid": "AC1", "auth_token": "t"})
    account(store, "mailgun", {"api_key": "k"}, handle="shop@example.com",
            base_url="ftp://mail.example")
    settings.TOUCHFLOW_CREDENTIALS_KEY = f"{crypto.new_key()},{KEY}"
    account(store, "viber", {"auth_token": "v"}, handle="shop")  # sealed under the new key
    settings.TOUCHFLOW_CREDENTIALS_KEY = KEY  # ...which is then lost
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL account warsaw/telegram (telegram): ") == (
        "FAIL account warsaw/telegram (telegram): credentials lack token"
    )
    assert fix_after(lines, "FAIL account warsaw/telegram") == (
        "→ Add it again: `touchflow channels add warsaw telegram -c KEY=VALUE …`."
    )
    assert finding(lines, "FAIL account warsaw/sms (twilio): ") == (
        "FAIL account warsaw/sms (twilio): no sender: the handle is empty"
    )
    assert finding(lines, "FAIL account warsaw/email (mailgun): ") == (
        "FAIL account warsaw/email (mailgun): API base URL 'ftp://mail.example' is not an "
        "http(s) URL"
    )
    assert finding(lines, "FAIL account warsaw/viber (viber): ").startswith(
        "FAIL account warsaw/viber (viber): Cannot decrypt the stored credentials"
    )
    # Unreadable accounts are said once, by their own finding.
    assert finding(lines, "FAIL coverage: ").startswith("FAIL coverage: accounts cannot be read")


def test_live_checks_that_the_api_answers_only_when_asked(
    store: Store, sink: tuple[Sink, str]
) -> None:
    base = sink[1].removesuffix("/messages")
    account(store, "telegram", {"token": "1:A"}, handle="shop_bot", base_url=base)
    closed = f"http://127.0.0.1:{free_port()}"
    account(store, "smsapi", {"token": "t"}, handle="Shop", base_url=closed)
    code, lines = doctor()
    assert code == 0
    assert finding(lines, "OK   account warsaw/telegram") == (
        f"OK   account warsaw/telegram (telegram): credentials open; API at {base}"
    )
    code, lines = doctor("--live")
    assert code == 1
    # The local server answers GET with 501: an answer is all --live asks for.
    assert finding(lines, "OK   account warsaw/telegram") == (
        f"OK   account warsaw/telegram (telegram): API at {base} answers (HTTP 501)"
    )
    assert finding(lines, "FAIL account warsaw/sms (smsapi): ").startswith(
        f"FAIL account warsaw/sms (smsapi): API at {closed} cannot be reached: ConnectError"
    )


# -- settings, channels, database ----------------------------------------------------------


def test_the_trial_secrets_fail_outside_debug_and_warn_in_it(settings: Any) -> None:
    settings.SECRET_KEY = settings.TRIAL_SECRET_KEY
    settings.TOUCHFLOW_CREDENTIALS_KEY = ""
    code, lines = doctor()
    assert code == 1
    line = finding(lines, "FAIL settings: TOUCHFLOW_SECRET_KEY")
    assert "trial's public key" in line
    assert "token_urlsafe" in fix_after(lines, "FAIL settings: TOUCHFLOW_SECRET_KEY")
    assert "channels new-key" in fix_after(lines, "FAIL settings: TOUCHFLOW_CREDENTIALS_KEY")
    settings.DEBUG = True
    code, lines = doctor()
    assert code == 0
    assert [ln[:5] for ln in lines if "settings:" in ln] == ["WARN "] * 3
    assert finding(lines, "WARN settings: TOUCHFLOW_DEBUG is on")


def test_a_credentials_key_that_does_not_parse_fails(store: Store, settings: Any) -> None:
    account(store, "telegram", {"token": "1:A"}, handle="shop_bot")
    settings.TOUCHFLOW_CREDENTIALS_KEY = "not-a-fernet-key"
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL settings: ") == (
        "FAIL settings: TOUCHFLOW_CREDENTIALS_KEY: Each key must be 32 url-safe base64-encoded "
        "bytes (`touchflow channels new-key` prints one)."
    )
    assert finding(lines, "FAIL account warsaw/telegram (telegram): ").endswith(
        "Each key must be 32 url-safe base64-encoded bytes (`touchflow channels new-key` prints "
        "one)."
    )


def test_a_channel_list_that_does_not_parse_fails_naming_the_entry(settings: Any) -> None:
    settings.TOUCHFLOW_CHANNELS = "sms=http://127.0.0.1:9/sms;fax=http://x"
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL channels: ") == (
        "FAIL channels: TOUCHFLOW_CHANNELS: 'fax=http://x' must be NAME=URL, NAME one of "
        "telegram, viber, whatsapp, sms, email"
    )
    assert not [ln for ln in lines if "coverage:" in ln]


def test_a_database_missing_a_migration_fails_and_nothing_else_reads_it() -> None:
    last = MigrationRecorder.Migration.objects.filter(app="delivery").order_by("-name").first()
    assert last is not None
    last.delete()  # rolled back with the test
    code, lines = doctor()
    assert code == 1
    assert finding(lines, "FAIL database: ") == (
        f"FAIL database: 1 migration(s) not applied: delivery.{last.name}"
    )
    assert fix_after(lines, "FAIL database: ") == "→ Run `touchflow migrate`."
    assert [ln.split(":")[0] for ln in lines if not ln.startswith(" ")] == [
        "OK   settings", "OK   channels", "FAIL database"
    ]
