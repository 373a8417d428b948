"""``touchflow replay`` (issue 10): a year of purchases on a moving clock, simulated
answers from a seed, per-month counts, and the caps and quiet hours checked from what
was sent. Here a small generated file stands in for the year (bench/ runs the real one)."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchflow import replay
from touchflow.cli import build_app
from touchflow.delivery.models import Touch

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _history(path: Path, invoices: int = 160, customers: int = 25, seed: int = 1) -> Path:
    """Online Retail's columns: ``invoices`` purchases by ``customers`` over four months."""
    rng = random.Random(seed)
    start = datetime(2011, 3, 1, 10, 0, tzinfo=UTC)
    rows = [HEADER]
    for n in range(invoices):
        when = start + timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        rows.append(f"{540000 + n},P{n},THING,{rng.randint(1, 5)},"
                    f"{when:%Y-%m-%d %H:%M:%S},2.50,{12000 + rng.randrange(customers)},"
                    "United Kingdom\n")
    path.write_bytes(gzip.compress("".join(rows).encode()))
    return path


@pytest.mark.django_db(transaction=True)
def test_a_replay_repeats_and_keeps_every_customer_within_the_caps(tmp_path: Path) -> None:
    data = _history(tmp_path / "history.csv.gz")
    first = replay.run(data, "replay-a", seed=3)
    second = replay.run(data, "replay-b", seed=3)
    assert first.purchases == second.purchases == 160
    assert first.months == second.months  # seeded: the same year twice
    total = replay.totals(first)
    assert total.check_ins > 0 and total.answered > 0 and total.review_requests > 0
    assert total.answered <= total.check_ins and total.escalations == total.unhappy
    assert first.cap_breaches == [] and first.quiet_breaches == []


@pytest.mark.django_db(transaction=True)
def test_the_checks_see_a_message_that_broke_the_rules(tmp_path: Path) -> None:
    data = _history(tmp_path / "history.csv.gz", invoices=60, customers=6)
    replay.run(data, "replay-c", seed=5)
    store = replay._store("replay-c")
    sent = replay._sent(store).order_by("pk")
    first = sent.first()
    assert first is not None
    # One message moved to 3 a.m. of its customer's night, and a burst for one customer.
    night = first.finished_at.replace(hour=3, minute=0)
    Touch.objects.filter(pk=first.pk).update(finished_at=night)
    assert replay._quiet(store) == [f"touch {first.pk} at {night.isoformat()}"]
    noon = night.replace(hour=12)
    Touch.objects.filter(pk__in=list(sent.filter(customer_id=first.customer_id)
                                     .values_list("pk", flat=True))).update(finished_at=noon)
    assert sent.filter(customer_id=first.customer_id).count() > store.cap_messages
    assert any(line.startswith(f"customer {first.customer_id}:") for line in replay._caps(store))


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_months_and_says_the_checks_held(tmp_path: Path) -> None:
    data = _history(tmp_path / "history.csv.gz", invoices=40, customers=8)
    result = CliRunner().invoke(build_app(), ["replay", "--file", str(data), "--store",
                                              "replay-d"], terminal_width=240)
    assert result.exit_code == 0, result.output
    assert "Replay, per month" in result.output and "2011-03" in result.output
    assert "No customer got more than the caps" in result.output


@pytest.mark.django_db(transaction=True)
def test_a_file_that_is_not_there_or_imports_nothing_is_said(tmp_path: Path) -> None:
    missing = CliRunner().invoke(build_app(), ["replay", "--file", str(tmp_path / "no.csv")],
                                 terminal_width=400)
    assert missing.exit_code == 2 and "no such file" in " ".join(missing.output.split())
    junk = tmp_path / "junk.csv"
    junk.write_text(HEADER + "1,P,T,1,yesterday,1.00,5,UK\n")
    empty = CliRunner().invoke(build_app(), ["replay", "--file", str(junk)], terminal_width=400)
    assert empty.exit_code == 2
    assert "no purchase could be imported" in " ".join(empty.output.split())
