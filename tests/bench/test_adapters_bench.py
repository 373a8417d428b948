"""The adapter benchmark's machinery, briefly: each adapter's messages all reach its fake
(in a process of its own), over one connection with reuse and one each without."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bench.adapters_bench import (
    ADAPTERS,
    BenchFailure,
    bench_adapters,
    fake_server,
    messages,
    pump,
    report,
    run_once,
)
from touchflow.delivery.channels.base import OutgoingMessage, SendResult

pytestmark = pytest.mark.django_db  # WhatsApp looks up the 24-hour window


@pytest.mark.parametrize("name", ADAPTERS)
def test_every_message_reaches_the_fake(name: str) -> None:
    with fake_server(name) as server:
        kept = run_once(server, True, 0.0, f"t-{name}-reuse", warmup=50)
        fresh = run_once(server, False, 0.0, f"t-{name}-fresh", warmup=3)

    assert (kept.messages, kept.connections) == (0, 1)
    assert (fresh.messages, fresh.connections) == (0, 3)


def test_the_table_has_both_rates() -> None:
    results = bench_adapters(0.05, 1, ("webhook",), warmup=5)

    [result] = results
    assert result.failure == ""
    assert [run.reuse for run in result.runs] == [True, False]
    assert all(run.messages > 0 for run in result.runs)
    assert "| webhook | webhook | " in report(results)


class Refusing:
    def send(self, batch: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [SendResult.retry("Telegram 429: Too Many Requests: retry after 7", 7.0)]

    def close(self) -> None:
        pass


def test_a_message_not_sent_stops_the_run() -> None:
    with pytest.raises(BenchFailure, match="t-1 to 7002 was not sent: Telegram 429"):
        pump(Refusing(), messages("telegram", "t"), count=5)
