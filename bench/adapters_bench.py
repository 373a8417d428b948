"""Channels: messages per second each adapter sustains against its local fake server,
with connection reuse and with a fresh connection per message, side by side.

Every adapter (the provider modules of ``touchflow.messaging.providers``, the generic
webhook channel and SMTP) sends from this process, one message per ``send([message])``
call as the dispatcher does, to its fake (``python -m bench.fake_server NAME``) running
in a process of its own. Per run: a new adapter, 50 warm-up messages, then messages for
a fixed time; the runs alternate reuse and no reuse. Every result must be ``ok`` and
every message must have reached the fake, or the adapter's row says FAILED.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Protocol

import django

from bench.databases import ROOT, fresh_database
from bench.fake_server import ACCOUNTS, SMTP_SENDER, address
from touchflow.delivery.channels.base import OutgoingMessage, SendResult

ADAPTERS = ("telegram", "viber", "whatsapp", "twilio", "smsapi", "mailgun", "webhook", "smtp")
WARMUP = 50
NAMES = ("Anna", "Łukasz", "Zofia", "Grzegorz", "Małgorzata", "Jędrzej")
TEXT = ("{name}, dziękujemy za wizytę w naszym salonie we Wrocławiu! Przygotowaliśmy dla "
        "Ciebie rabat 15% na meble ogrodowe — ważny do niedzieli. Szczegóły: sklep.pl/o")
SUBJECT = "Rabat 15% na meble ogrodowe — tylko do niedzieli"


class BenchFailure(Exception):
    """A message was not sent, or did not reach the fake: the figures would lie."""


@dataclass
class Run:
    reuse: bool
    messages: int  # timed, every one ok
    seconds: float
    per_second: float
    connections: int  # accepted by the fake during the run, warm-up included


@dataclass
class AdapterResult:
    adapter: str
    channel: str
    runs: list[Run] = field(default_factory=list)
    failure: str = ""

    def rates(self, reuse: bool) -> list[float]:
        return [r.per_second for r in self.runs if r.reuse == reuse]

    def median(self, reuse: bool) -> float:
        rates = self.rates(reuse)
        return statistics.median(rates) if rates else 0.0

    def connections(self, reuse: bool) -> tuple[int, int]:
        """(connections, messages incl. warm-up) over the runs."""
        runs = [r for r in self.runs if r.reuse == reuse]
        return sum(r.connections for r in runs), sum(r.messages + WARMUP for r in runs)


# -- the fake, in its own process ---------------------------------------------------------


class FakeServer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_server", name], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self._line()

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise BenchFailure(f"fake {self.name} exited with {self.process.wait()}")
        return line.strip()

    def stats(self) -> dict[str, int]:
        assert self.process.stdin is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        stats: dict[str, int] = json.loads(self._line())
        return stats

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def fake_server(name: str) -> Iterator[FakeServer]:
    server = FakeServer(name)
    try:
        yield server
    finally:
        server.stop()


# -- the sender, in this process -----------------------------------------------------------


class Sender(Protocol):
    """What the benchmark needs of a channel or provider (``Channel`` without a name)."""

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]: ...

    def close(self) -> None: ...


class FreshConnection:
    """A channel that keeps one connection open, made to close it after every message:
    the webhook and SMTP channels' "without reuse"."""

    def __init__(self, channel: Sender) -> None:
        self.channel = channel

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        try:
            return self.channel.send(messages)
        finally:
            self.channel.close()

    def close(self) -> None:
        self.channel.close()


def channel_kind(name: str) -> str:
    from touchflow.messaging.providers import provider_class

    if name in ACCOUNTS:
        return provider_class(name).channel
    return "email" if name == "smtp" else "webhook"


def open_channel(name: str, url: str, reuse: bool) -> Sender:
    from touchflow.delivery.channels.smtp import SmtpChannel
    from touchflow.delivery.channels.webhook import WebhookChannel
    from touchflow.messaging import providers

    if name == "webhook":
        hook = WebhookChannel("webhook", f"{url}/messages")
        return hook if reuse else FreshConnection(hook)
    if name == "smtp":
        smtp = SmtpChannel("email", url, SMTP_SENDER)
        return smtp if reuse else FreshConnection(smtp)
    account = ACCOUNTS[name]
    config = providers.AccountConfig(
        id=1, store_id=1, provider=name, channel=channel_kind(name), handle=account.handle,
        base_url=url + account.path, credentials=dict(account.credentials),
        webhook_key="bench", webhook_url=f"https://touchflow.example/hooks/{name}/bench/",
    )
    return providers.build(config, reuse=reuse)


def messages(name: str, tag: str) -> Iterator[OutgoingMessage]:
    """Touches as the dispatcher builds them: ~160 characters of Polish, a unique
    idempotency key each, recipients cycling through the fake's known addresses."""
    kind = channel_kind(name)
    for n in itertools.count(1):
        yield OutgoingMessage(
            touch_id=n, idempotency_key=f"{tag}-{n}", channel=kind, address=address(name, n),
            text=TEXT.format(name=NAMES[n % len(NAMES)]), subject=SUBJECT, language="pl",
            store_id=1, unsubscribe_url=f"https://touchflow.example/u/{tag}-{n}/",
        )


def pump(channel: Sender, source: Iterator[OutgoingMessage], *, count: int = 0,
         seconds: float = 0.0) -> tuple[int, float]:
    """Send ``count`` messages, or as many as fit in ``seconds``, one per ``send``;
    return (sent, elapsed seconds). A message that is not sent stops the run."""
    started = time.perf_counter()
    deadline = started + seconds
    sent = 0
    while sent < count if count else time.perf_counter() < deadline:
        message = next(source)
        result = channel.send([message])[0]
        if not result.ok:
            raise BenchFailure(f"{message.idempotency_key} to {message.address} was not "
                               f"sent: {result.error}")
        sent += 1
    return sent, time.perf_counter() - started


def run_once(server: FakeServer, reuse: bool, seconds: float, tag: str,
             warmup: int = WARMUP) -> Run:
    before = server.stats()
    channel = open_channel(server.name, server.url, reuse)
    source = messages(server.name, tag)
    try:
        pump(channel, source, count=warmup)
        sent, elapsed = pump(channel, source, seconds=seconds)
    finally:
        channel.close()
    after = server.stats()
    arrived = after["requests"] - before["requests"]
    if arrived != warmup + sent:
        raise BenchFailure(f"{warmup + sent} messages sent, {arrived} reached the fake")
    return Run(reuse=reuse, messages=sent, seconds=round(elapsed, 3),
               per_second=round(sent / elapsed, 1) if elapsed else 0.0,
               connections=after["connections"] - before["connections"])


def bench_adapter(name: str, seconds: float, repeat: int, warmup: int = WARMUP
                  ) -> AdapterResult:
    result = AdapterResult(name, channel_kind(name))
    try:
        with fake_server(name) as server:
            for run in range(repeat):
                for reuse in (True, False):
                    tag = f"bench-{name}-{run}-{'reuse' if reuse else 'fresh'}"
                    result.runs.append(run_once(server, reuse, seconds, tag, warmup))
    except BenchFailure as exc:
        result.failure = str(exc)
        print(f"\n!!! ADAPTER BENCH FAILED: {name}: {exc}\n", file=sys.stderr, flush=True)
    return result


@contextmanager
def django_ready() -> Iterator[None]:
    """Django set up in this process. WhatsApp reads the 24-hour window from the
    database, so unless Django is already set up (tests), a fresh SQLite database is
    migrated for the run."""
    from django.apps import apps

    if apps.ready:
        yield
        return
    with fresh_database("sqlite", "touchflow_bench_adapters") as url:
        saved = os.environ.get("TOUCHFLOW_DATABASE_URL")
        os.environ["TOUCHFLOW_DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
        django.setup()
        try:
            yield
        finally:
            from django.db import connections

            connections.close_all()
            if saved is None:
                os.environ.pop("TOUCHFLOW_DATABASE_URL", None)
            else:
                os.environ["TOUCHFLOW_DATABASE_URL"] = saved


def bench_adapters(seconds: float, repeat: int, names: tuple[str, ...] = ADAPTERS,
                   warmup: int = WARMUP) -> list[AdapterResult]:
    with django_ready():
        return [bench_adapter(name, seconds, repeat, warmup) for name in names]


# -- the table -------------------------------------------------------------------------


def report(results: list[AdapterResult]) -> str:
    lines = ["| adapter | channel | reuse (msgs/s) | fresh connection per message (msgs/s) "
             "| reuse / fresh | TCP connections / messages, reuse | same, fresh "
             "| runs, reuse | runs, fresh |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.failure:
            lines.append(f"| {r.adapter} | {r.channel} | **FAILED**: {r.failure} "
                         "| | | | | | |")
            continue
        reuse, fresh = r.median(True), r.median(False)
        conns = [r.connections(flag) for flag in (True, False)]
        lines.append(
            f"| {r.adapter} | {r.channel} | {reuse:,.0f} | {fresh:,.0f} | "
            f"{reuse / max(fresh, 1e-9):.2f} | {conns[0][0]:,} / {conns[0][1]:,} | "
            f"{conns[1][0]:,} / {conns[1][1]:,} | "
            f"{', '.join(f'{x:,.0f}' for x in r.rates(True))} | "
            f"{', '.join(f'{x:,.0f}' for x in r.rates(False))} |"
        )
    sample = TEXT.format(name=NAMES[0])
    lines += [
        "",
        f"One message per `send([message])` call, {len(sample)} characters of Polish text, "
        "a unique idempotency key each, 100 recipients in turn; each fake runs in its own "
        "process (`python -m bench.fake_server NAME`, stdlib HTTP server with TCP_NODELAY, "
        "aiosmtpd for SMTP). Per run: a new adapter, "
        f"{WARMUP} warm-up messages, then the timed window; median of the runs, reuse and "
        "fresh runs alternating. *Fresh*: the providers with `reuse=False` (their client "
        "keeps no connection alive, so each message opens and closes a TCP connection; "
        "for Mailgun a new anymail session per message); the webhook and SMTP "
        "channels closed after every message (SMTP: connect, EHLO, MAIL, RCPT, DATA, QUIT "
        "each time). WhatsApp: no customer wrote in the last 24 hours, so every touch goes "
        "as the approved template, after the provider's window lookup (one ContactPoint "
        "query per `send`, SQLite).",
        "",
        "Against the real HTTPS APIs a fresh connection also pays a TLS handshake and a "
        "network round trip or two, which these local fakes do not have: there reuse is "
        "worth far more than the ratio here.",
    ]
    return "\n".join(lines)


def as_json(results: list[AdapterResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]


if __name__ == "__main__":
    chosen = tuple(sys.argv[1:]) or ADAPTERS
    print(report(bench_adapters(float(os.environ.get("BENCH_SECONDS", "5")), 3, chosen)))
