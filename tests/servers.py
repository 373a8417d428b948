"""Real local servers for tests: an SMTP server (aiosmtpd) and an HTTP sink.

Nothing is mocked: the channels talk to these over sockets exactly as they would
talk to a provider.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class SmtpInbox:
    messages: list[Message] = field(default_factory=list)
    # Answers for the next RCPT commands, e.g. "550 5.1.1 no such user"; empty → accept.
    rcpt_answers: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_answers:
            return self.rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpInbox, str]]:
    inbox = SmtpInbox()
    # aiosmtpd connects to its own port once started, so it needs a real one, not 0.
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@dataclass
class Sink:
    """Records every request; answers from ``script`` (status, headers) then 200."""

    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for
        # the client's delayed ACK (40 ms) on a kept-alive connection.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with sink.lock:
                sink.received.append(body)
                sink.keys.append(self.headers.get("Idempotency-Key", ""))
                status, headers = sink.script.pop(0) if sink.script else (200, {})
            payload = json.dumps({"id": f"msg-{len(sink.received)}"}).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Run ``server`` in a thread until the block ends; yields its ``/messages`` URL."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/messages"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def http_sink() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _handler(sink))) as url:
        yield sink, url


@contextmanager
def silent_server() -> Iterator[str]:
    """An HTTP URL whose server takes every request and never answers it: the request
    is written, and the client's timeout is all it gets back."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/messages"
    finally:
        listener.close()
        for conn in held:
            conn.close()
