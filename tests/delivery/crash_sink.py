"""A local provider for the crash test: counts every idempotency key it delivers and can
fail a share of requests the way providers do (500, 429 with Retry-After, a hang) and
answer after a provider's latency.

It is the benchmarks' latency provider (bench/latency_provider.py: asyncio, so a
hundred requests held at once cost no hundred threads) on a thread of the test
process; worker subprocesses reach it over 127.0.0.1 like any provider.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.latency_provider import Behaviour, LatencyProvider, running

# The test's names for the failures; the provider calls a hang a stall.
FAILURES = ("500", "429", "hang")


@dataclass
class CrashSink:
    """What the provider saw. A message counts as delivered when the provider took it,
    whether or not the sender lived to read the answer (a worker killed mid-request);
    a hung request is not delivered unless ``hang_delivers`` (then only its answer is
    lost, the case where a retry to a provider without keys sends twice)."""

    provider: LatencyProvider

    @property
    def accepted(self) -> Counter[str]:
        return Counter(r.key for r in list(self.provider.records) if r.delivered)

    @property
    def addresses(self) -> list[str]:
        """The recipient of every delivered message, in order of arrival."""
        return [r.to for r in list(self.provider.records) if r.delivered]

    def unanswered(self, timeout: float) -> set[str]:
        """Keys of messages with a request whose answer the sender cannot have read in
        time: it had gone when the answer was ready, or the answer was ready ``timeout``
        or more after the request arrived (a hang; on a loaded machine, a slow answer
        too)."""
        return {r.key for r in list(self.provider.records)
                if r.status == 0 or r.answered - r.at >= timeout}

    @property
    def requests(self) -> int:
        return len(self.provider.records)

    @property
    def failures(self) -> Counter[str]:
        return Counter("hang" if r.outcome == "stall" else r.outcome
                       for r in list(self.provider.records) if r.outcome != "ok")

    def stats(self) -> dict[str, object]:
        """The provider's summary: duplicates, most messages in one second, …"""
        return self.provider.stats()


@contextmanager
def crash_sink(fail_share: float = 0.0, hang: float = 0.5, latency: float = 0.0,
               hang_delivers: bool = False, seed: int = 7) -> Iterator[tuple[CrashSink, str]]:
    behaviour = Behaviour(latency=latency, fail=fail_share, stall=hang,
                          stall_delivers=hang_delivers, retry_after=1, seed=seed)
    with running(behaviour) as (provider, base):
        yield CrashSink(provider), f"{base}/messages"
