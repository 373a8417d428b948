"""``python -m bench.latency_provider``: a local provider that answers after a set latency.

Real providers answer in 100–300 ms; a sender that waits for each answer in turn is
bounded by that, not by its own speed. This server reproduces it on 127.0.0.1 so the
delivery engine can be measured (and crashed) at real-world speed without the internet:
every answer is delayed by ``latency`` (± ``jitter``) without holding up any other
request, over HTTP/1.1 keep-alive, thousands of requests a second from one core.
Pure asyncio streams: no dependency beyond the standard library.

It speaks two shapes:

- the generic webhook channel (touchflow/delivery/channels/webhook.py): ``POST`` JSON
  to any path, the message's identity in the ``Idempotency-Key`` header (or the body's
  ``idempotency_key``); answers ``{"id": "msg-N"}``;
- Telegram's ``POST /bot<token>/sendMessage`` (``{"chat_id", "text"}``); answers
  ``{"ok": true, "result": {"message_id": N}}``. Telegram takes no idempotency key, so
  a message's identity is a hash of chat id and text: the provider that does *not*
  honour keys, where a repeated request is a message sent twice.

A share ``fail`` of the requests fails, evenly among ``failures``: ``500``; ``429``
with ``Retry-After``; ``stall`` (held ``stall`` seconds, longer than the sender's
timeout, then 504). A stall may count as delivered (``stall_delivers``): the provider
took the message and only the answer was lost, the case where a retry sends twice.

Every request is recorded (arrival on the machine's monotonic clock, which all
processes share, and on the wall clock; identity; outcome; status answered, 0 when the
client had gone). ``GET /stats[?since=&until=]`` sums them up (delivered, duplicates,
most messages in any one-second window); ``GET /records[?since=]`` lists the delivered
ones. The first line printed is the base URL; it serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FAILURES = ("500", "429", "stall")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 429: "Too Many Requests", 500: "Internal Server Error",
           504: "Gateway Timeout"}


@dataclass(frozen=True)
class Behaviour:
    """How the provider answers. ``latency``/``jitter``/``stall`` are seconds."""

    latency: float = 0.0
    jitter: float = 0.0
    fail: float = 0.0
    failures: tuple[str, ...] = FAILURES
    stall: float = 30.0
    stall_delivers: bool = False
    retry_after: int = 1
    seed: int = 7

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "stall"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative")
        if not 0 <= self.fail <= 1:
            raise ValueError("fail: a share between 0 and 1")
        unknown = set(self.failures) - set(FAILURES)
        if unknown or not self.failures:
            raise ValueError(f"failures: choose among {', '.join(FAILURES)}")
        if self.retry_after < 0:
            raise ValueError("retry_after: must not be negative")


@dataclass(slots=True)
class Record:
    """One request: ``at`` monotonic arrival, ``wall`` Unix time of arrival."""

    at: float
    wall: float
    key: str
    outcome: str  # "ok" or one of FAILURES
    delivered: bool
    status: int = 0  # as answered; 0 while pending or when the client had gone
    answered: float = 0.0  # monotonic moment the answer was ready; 0 while pending
    to: str = ""  # the recipient: the webhook body's "to", Telegram's chat_id


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | list[Any]
    headers: dict[str, str] = field(default_factory=dict)


def max_in_window(times: Iterable[float], width: float = 1.0) -> int:
    """The most ``times`` in any half-open window ``[t, t + width)``."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= width:
            first += 1
        best = max(best, last - first + 1)
    return best


def summarize(records: Sequence[Record], since: float | None = None,
              until: float | None = None) -> dict[str, Any]:
    """Counts over the records that arrived in ``[since, until)`` (monotonic seconds)."""
    chosen = [r for r in records
              if (since is None or r.at >= since) and (until is None or r.at < until)]
    delivered = [r for r in chosen if r.delivered]
    per_key = Counter(r.key for r in delivered)
    duplicates = {k: n for k, n in per_key.items() if n > 1}
    span = (until - since) if since is not None and until is not None else None
    return {
        "requests": len(chosen),
        "outcomes": dict(Counter(r.outcome for r in chosen)),
        "statuses": dict(Counter(str(r.status) for r in chosen)),
        "delivered": len(delivered),
        "keys": len(per_key),
        "duplicate_keys": len(duplicates),
        "duplicate_messages": sum(n - 1 for n in duplicates.values()),
        "duplicates_sample": sorted(duplicates)[:20],
        "max_per_second": max_in_window(r.at for r in delivered),
        "first": delivered[0].at if delivered else None,
        "last": delivered[-1].at if delivered else None,
        "per_second": round(len(delivered) / span, 2) if span else None,
    }


def message_key(request: Request) -> str:
    """A message's identity: the idempotency key, or (Telegram) chat id and text."""
    if request.path.endswith("/sendMessage"):
        body = json.loads(request.body)
        digest = hashlib.sha1(f"{body['chat_id']}\n{body['text']}".encode()).hexdigest()
        return f"tg:{digest[:20]}"
    if key := request.headers.get("idempotency-key"):
        return key
    body = json.loads(request.body or b"{}")
    if isinstance(body, dict) and body.get("idempotency_key"):
        return str(body["idempotency_key"])
    return "body:" + hashlib.sha1(request.body).hexdigest()[:20]


def message_to(request: Request) -> str:
    """A message's recipient, as far as the body says."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("chat_id") or body.get("to") or "")


class LatencyProvider:
    """The server's state and answers; ``serve()`` runs it on the current event loop."""

    def __init__(self, behaviour: Behaviour | None = None,
                 script: Iterable[str] = ()) -> None:
        self.behaviour = behaviour or Behaviour()
        # Outcomes for the next requests before the random ones: tests choose them.
        self._script = list(script)
        self._rng = random.Random(self.behaviour.seed)
        self.records: list[Record] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what to answer ---------------------------------------------------------------

    def _outcome(self) -> str:
        if self._script:
            return self._script.pop(0)
        b = self.behaviour
        if b.fail and self._rng.random() < b.fail:
            return self._rng.choice(b.failures)
        return "ok"

    def _delay(self, outcome: str) -> float:
        b = self.behaviour
        if outcome == "stall":
            return b.stall
        return max(0.0, b.latency + (self._rng.uniform(-b.jitter, b.jitter) if b.jitter else 0))

    async def answer(self, request: Request, gone: Any) -> Answer:
        if request.method == "GET" and request.path == "/stats":
            return Answer(200, self.stats(_number(request.query, "since"),
                                          _number(request.query, "until")))
        if request.method == "GET" and request.path == "/records":
            return Answer(200, self.delivered_records(_number(request.query, "since")))
        if request.method != "POST":
            return Answer(405, {"error": "POST a message, or GET /stats or /records"})
        try:
            key = message_key(request)
        except (ValueError, KeyError, TypeError) as exc:
            return Answer(400, {"error": f"body: {exc!r}"})
        outcome = self._outcome()
        b = self.behaviour
        record = Record(time.monotonic(), time.time(), key, outcome,
                        outcome == "ok" or (outcome == "stall" and b.stall_delivers),
                        to=message_to(request))
        self.records.append(record)
        delay = self._delay(outcome)
        if delay:  # no latency: answer at once, without a turn of the loop
            await asyncio.sleep(delay)
        answer = _shaped(request.path, outcome, len(self.records), b.retry_after)
        record.status = 0 if gone() else answer.status
        record.answered = time.monotonic()
        return answer

    def stats(self, since: float | None = None, until: float | None = None) -> dict[str, Any]:
        return {"connections": self.connections,
                **summarize(list(self.records), since, until)}

    def delivered_records(self, since: float | None = None) -> list[list[Any]]:
        """``[at, wall, key]`` of every delivered message (the lag bench's raw data)."""
        return [[r.at, r.wall, r.key] for r in list(self.records)
                if r.delivered and (since is None or r.at >= since)]

    # -- HTTP/1.1 over asyncio streams ------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start listening; return the port."""
        self._server = await asyncio.start_server(self._connection, host, port, backlog=2048)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop the connections still open (stalled ones too)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    request, keep_alive = await _read_request(reader)
                except (ValueError, UnicodeError) as exc:
                    writer.write(_encode(Answer(400, {"error": f"request: {exc}"}), False))
                    break
                if request is None:
                    break
                answer = await self.answer(request, reader.at_eof)
                if reader.at_eof():
                    break  # the client gave up waiting: nobody to answer
                writer.write(_encode(answer, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a client that timed out or was killed drops its connection: expected
        except asyncio.CancelledError:
            # Shutting down. Ending quietly: Python 3.11's streams call task.exception()
            # on a cancelled connection task, which raises and prints a traceback.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_request(reader: asyncio.StreamReader) -> tuple[Request | None, bool]:
    """The next request on the connection, and whether to keep it open after."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None, False  # the client closed between requests
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ValueError("chunked bodies are not supported; send Content-Length")
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    parts = urlsplit(target)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, parts.path, dict(parse_qsl(parts.query)), headers, body), keep_alive


def _number(query: dict[str, str], name: str) -> float | None:
    return float(query[name]) if query.get(name) else None


def _shaped(path: str, outcome: str, n: int, retry_after: int) -> Answer:
    """The answer for ``outcome`` in the shape of the API behind ``path``."""
    telegram = path.endswith("/sendMessage")
    if outcome == "ok":
        body: dict[str, Any] = ({"ok": True, "result": {"message_id": n}} if telegram
                                else {"id": f"msg-{n}"})
        return Answer(200, body)
    status = {"500": 500, "429": 429, "stall": 504}[outcome]
    headers = {"Retry-After": str(retry_after)} if status == 429 else {}
    if telegram:
        body = {"ok": False, "error_code": status, "description": REASONS[status]}
        if status == 429:
            body["parameters"] = {"retry_after": retry_after}
    else:
        body = {"error": REASONS[status]}
    return Answer(status, body, headers)


def _encode(answer: Answer, keep_alive: bool) -> bytes:
    payload = json.dumps(answer.body).encode()
    head = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Unknown')}",
            "Content-Type: application/json", f"Content-Length: {len(payload)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{k}: {v}" for k, v in answer.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


# -- running it ---------------------------------------------------------------------------


@contextlib.contextmanager
def running(behaviour: Behaviour | None = None, script: Iterable[str] = (),
            port: int = 0) -> Iterator[tuple[LatencyProvider, str]]:
    """The provider on a thread of this process (its own event loop) until the block ends;
    yields it and its base URL. For tests; a benchmark runs it in a process of its own."""
    provider = LatencyProvider(behaviour, script)
    loop = asyncio.new_event_loop()
    ready: list[int] = []
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        ready.append(loop.run_until_complete(provider.serve(port=port)))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="latency-provider", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield provider, f"http://127.0.0.1:{ready[0]}"
    finally:
        asyncio.run_coroutine_threadsafe(provider.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def parse_args(argv: Sequence[str] | None = None) -> tuple[Behaviour, str, int]:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_provider",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="± seconds, uniform, added to each answer's latency")
    parser.add_argument("--fail", type=float, default=0.0, help="share of requests failing")
    parser.add_argument("--failures", default=",".join(FAILURES),
                        help="kinds of failure to mix evenly: 500,429,stall")
    parser.add_argument("--stall", type=float, default=30.0,
                        help="seconds a stalled request is held before its 504")
    parser.add_argument("--stall-delivers", action="store_true",
                        help="a stalled message counts as delivered (only the answer is lost)")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, on each 429")
    parser.add_argument("--seed", type=int, default=7)
    a = parser.parse_args(argv)
    try:
        behaviour = Behaviour(a.latency, a.jitter, a.fail, tuple(a.failures.split(",")),
                              a.stall, a.stall_delivers, a.retry_after, a.seed)
    except ValueError as exc:
        parser.error(f"--{exc}")
    return behaviour, a.host, a.port


async def _main(behaviour: Behaviour, host: str, port: int) -> None:
    provider = LatencyProvider(behaviour)
    bound = await provider.serve(host, port)
    print(f"http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await provider.close()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_main(*parse_args(argv)))


if __name__ == "__main__":
    main()
