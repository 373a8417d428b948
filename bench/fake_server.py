"""``python -m bench.fake_server NAME``: one provider's local fake, in a process of its own.

The adapter benchmark sends from its own process; the fake answers from this one, so
the two do not share a GIL. NAME is a provider (the fakes of tests/messaging/fakes),
``webhook`` (the generic HTTP channel's sink) or ``smtp`` (aiosmtpd).

Protocol: the first line on stdout is the base URL. Each ``stats`` line on stdin is
answered with one JSON line, ``{"requests": …, "connections": …}``: the messages
taken in (HTTP requests, SMTP DATA) and the TCP connections (HTTP) or SMTP sessions
accepted since the start. The process serves until stdin closes.

The fakes are configured here for what the benchmark sends (``RECIPIENTS`` chats,
subscribers and numbers; the credentials of ``ACCOUNTS``), so both sides agree.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.messaging.fakes.base import Answer, FakeProvider, Request, _handler
from tests.servers import free_port

RECIPIENTS = 100  # distinct addresses the benchmark cycles through


@dataclass(frozen=True)
class Account:
    handle: str
    credentials: dict[str, Any]
    path: str = ""  # appended to the fake's base URL to make the account's base_url


ACCOUNTS: dict[str, Account] = {
    "telegram": Account("@sklep_bench_bot", {"token": "123456:ABC-bench", "secret_token": "s"}),
    "viber": Account("sklepbench", {"auth_token": "4453b6ac1bench-e02c5f12174805f9",
                                    "sender_name": "Sklep Wrocław"}),
    "whatsapp": Account("+48 22 100 20 30", {
        "token": "EAAG-bench", "app_secret": "meta-app-secret", "verify_token": "verify",
        "phone_number_id": "1065403522", "template": "touchflow_message",
        "template_language": {"en": "en_US", "pl": "pl"},
    }),
    "twilio": Account("+48221234567", {"account_sid": "AC" + "b" * 32,
                                       "auth_token": "twilio-bench", "from": "+48221234567"}),
    "smsapi": Account("Sklep", {"token": "smsapi-bench-token", "from": "Sklep"}),
    "mailgun": Account("Sklep Wrocław <sklep@mg.sklep.test>", {
        "api_key": "key-bench", "domain": "mg.sklep.test", "webhook_signing_key": "whsk",
    }, path="/v3"),
}
SMTP_SENDER = "Sklep Wrocław <sklep@sklep.test>"


def telegram_chat(i: int) -> str:
    return str(7001 + i)


def viber_user(i: int) -> str:
    return f"01234567890A{i:04d}bench="


def phone(i: int) -> str:
    return f"+48501{i:06d}"


def email(i: int) -> str:
    return f"klient{i}@example.pl"


def address(name: str, i: int) -> str:
    """The ``i``-th recipient (modulo RECIPIENTS) as adapter ``name`` takes it."""
    i %= RECIPIENTS
    if name == "telegram":
        return telegram_chat(i)
    if name == "viber":
        return viber_user(i)
    if name in ("mailgun", "smtp", "webhook"):
        return email(i)
    return phone(i)


class FakeSink(FakeProvider):
    """The generic webhook channel's other end: 200 ``{"id": …}`` for every POST."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0
        self.routes = {("POST", "/messages"): self._take}

    def _take(self, request: Request) -> Answer:
        with self.lock:
            self.taken += 1
            return Answer(200, {"id": f"msg-{self.taken}"})


def make_fake(name: str) -> FakeProvider:
    creds = ACCOUNTS[name].credentials if name in ACCOUNTS else {}
    if name == "telegram":
        from tests.messaging.fakes.telegram import FakeTelegram

        telegram = FakeTelegram(creds["token"])
        telegram.chats.update(int(telegram_chat(i)) for i in range(RECIPIENTS))
        return telegram
    if name == "viber":
        from tests.messaging.fakes.viber import FakeViber

        viber = FakeViber(creds["auth_token"])
        viber.subscribers.update(viber_user(i) for i in range(RECIPIENTS))
        return viber
    if name == "whatsapp":
        from tests.messaging.fakes.whatsapp import FakeWhatsApp

        return FakeWhatsApp(creds["token"], creds["phone_number_id"])
    if name == "twilio":
        from tests.messaging.fakes.twilio import FakeTwilio

        return FakeTwilio(creds["account_sid"], creds["auth_token"])
    if name == "smsapi":
        from tests.messaging.fakes.smsapi import FakeSmsapi

        return FakeSmsapi(creds["token"])
    if name == "mailgun":
        from tests.messaging.fakes.mailgun import FakeMailgun

        return FakeMailgun(creds["api_key"], (creds["domain"],))
    if name == "webhook":
        return FakeSink()
    raise SystemExit(f"unknown fake {name!r}")


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0

    def add(self, requests: int = 0, connections: int = 0) -> None:
        with self.lock:
            self.requests += requests
            self.connections += connections

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {"requests": self.requests, "connections": self.connections}


@contextmanager
def serve_http(fake: FakeProvider, counter: Counter) -> Iterator[str]:
    handle = fake.handle

    def counted(request: Request) -> Answer:
        answer = handle(request)
        with fake.lock:
            fake.requests.clear()  # the fake keeps every request; a long run needs none
        counter.add(requests=1)
        return answer

    fake.handle = counted  # type: ignore[method-assign]

    class Handler(_handler(fake)):  # type: ignore[misc, valid-type]
        # Headers and body go out in two writes; with Nagle on, the body of a reply on
        # a kept-alive connection waits for the client's delayed ACK (40 ms) — a
        # stdlib artefact no provider's front end has, and it would cap reuse at ~25/s.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            counter.add(connections=1)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class SmtpCounter:
    """aiosmtpd handler: accepts every message, keeps none, counts sessions (EHLO)."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        self.counter.add(connections=1)
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.counter.add(requests=1)
        return "250 Message accepted for delivery"


@contextmanager
def serve_smtp(counter: Counter) -> Iterator[str]:
    controller = Controller(SmtpCounter(counter), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m bench.fake_server NAME")
    counter = Counter()
    name = argv[0]
    with serve_smtp(counter) if name == "smtp" else serve_http(make_fake(name), counter) as url:
        print(url, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(json.dumps(counter.stats()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
