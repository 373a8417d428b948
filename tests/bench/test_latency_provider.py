"""The latency provider the delivery benchmarks and the crash test send to: it speaks the
webhook channel's and Telegram's shapes to the real senders, fails as told, holds many
requests at once without one blocking another, and counts what it delivered."""

from __future__ import annotations

import http.client
import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.latency_provider import (
    Behaviour,
    LatencyProvider,
    Record,
    max_in_window,
    parse_args,
    running,
    summarize,
)
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.webhook import WebhookChannel
from touchflow.messaging.providers.base import AccountConfig
from touchflow.messaging.providers.telegram import TelegramProvider


def message(key: str, to: str = "+48500000001", text: str = "Hello") -> OutgoingMessage:
    return OutgoingMessage(touch_id=1, idempotency_key=key, channel="sms", address=to,
                           text=text)


def telegram(base_url: str, timeout: float = 10.0) -> TelegramProvider:
    account = AccountConfig(id=1, store_id=1, provider="telegram", channel="telegram",
                            handle="@bench_bot", base_url=base_url,
                            credentials={"token": "123456:ABC"})
    return TelegramProvider(account, timeout=timeout)


def raw_post(port: int, key: str) -> socket.socket:
    """A request sent on a fresh connection, its answer left unread."""
    sock = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"idempotency_key": key, "to": "+1", "text": "x"}).encode()
    sock.sendall(b"POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return sock


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def fast() -> Iterator[tuple[LatencyProvider, str]]:
    with running(Behaviour(latency=0.0)) as served:
        yield served


def test_the_webhook_channel_gets_its_answer_and_the_key_is_counted(
    fast: tuple[LatencyProvider, str],
) -> None:
    provider, url = fast
    channel = WebhookChannel("sms", f"{url}/sms")
    results = channel.send([message("k-1"), message("k-2"), message("k-1")])
    channel.close()
    assert results == [SendResult.sent("msg-1"), SendResult.sent("msg-2"),
                       SendResult.sent("msg-3")]
    assert [(r.key, r.outcome, r.delivered, r.status) for r in provider.records] == [
        ("k-1", "ok", True, 200), ("k-2", "ok", True, 200), ("k-1", "ok", True, 200)]
    stats = provider.stats()
    assert (stats["requests"], stats["delivered"], stats["keys"]) == (3, 3, 2)
    assert (stats["duplicate_keys"], stats["duplicate_messages"]) == (1, 1)
    assert stats["duplicates_sample"] == ["k-1"]
    assert stats["connections"] == 1  # one kept-alive connection for all three


def test_telegram_without_keys_counts_the_same_chat_and_text_as_a_duplicate(
    fast: tuple[LatencyProvider, str],
) -> None:
    provider, url = fast
    bot = telegram(url)
    first = bot.send_one(message("a", to="1001", text="Hi"))
    again = bot.send_one(message("b", to="1001", text="Hi"))  # keys are not sent to Telegram
    other = bot.send_one(message("c", to="1002", text="Hi"))
    bot.close()
    assert (first, again, other) == (SendResult.sent("1"), SendResult.sent("2"),
                                     SendResult.sent("3"))
    keys = [r.key for r in provider.records]
    assert keys[0] == keys[1] != keys[2]
    assert keys[0].startswith("tg:")
    assert provider.stats()["duplicate_keys"] == 1


def test_failures_have_each_providers_shape_and_only_ok_is_delivered() -> None:
    script = ["500", "429", "ok", "500", "429", "ok"]
    with running(Behaviour(retry_after=3), script=script) as (provider, url):
        channel = WebhookChannel("sms", f"{url}/sms")
        hook = channel.send([message("w-500"), message("w-429"), message("w-ok")])
        channel.close()
        bot = telegram(url)
        tg = [bot.send_one(message(k, to="7", text=k)) for k in ("t-500", "t-429", "t-ok")]
        bot.close()
    assert [(r.ok, r.transient, r.retry_after) for r in hook] == [
        (False, True, None), (False, True, 3.0), (True, False, None)]
    assert hook[0].error.startswith("HTTP 500")
    assert [(r.ok, r.transient, r.retry_after) for r in tg] == [
        (False, True, None), (False, True, 3.0), (True, False, None)]
    assert tg[1].error.startswith("Telegram 429")
    assert [(r.outcome, r.status, r.delivered) for r in provider.records] == [
        ("500", 500, False), ("429", 429, False), ("ok", 200, True)] * 2
    stats = provider.stats()
    assert stats["outcomes"] == {"500": 2, "429": 2, "ok": 2}
    assert stats["delivered"] == 2


@pytest.mark.parametrize("delivers", [False, True])
def test_a_stall_outlasts_the_senders_timeout_and_counts_as_told(delivers: bool) -> None:
    behaviour = Behaviour(stall=30, stall_delivers=delivers)
    with running(behaviour, script=["stall"]) as (provider, url):
        channel = WebhookChannel("sms", f"{url}/sms", timeout=0.2)
        [stalled] = channel.send([message("s-1")])
        [after] = channel.send([message("s-2")])
        channel.close()
        records = list(provider.records)
    assert stalled.transient and not stalled.ok
    assert "timed out" in stalled.error
    assert after == SendResult.sent("msg-2")
    assert [(r.key, r.outcome, r.delivered) for r in records] == [
        ("s-1", "stall", delivers), ("s-2", "ok", True)]
    assert provider.stats()["delivered"] == 1 + delivers


def test_a_held_request_does_not_hold_up_the_others() -> None:
    # 50 requests stalled on 50 connections at once, none answered; one more on a 51st
    # connection is answered while they all still wait.
    with running(Behaviour(stall=60), script=["stall"] * 50) as (provider, url):
        held = [raw_post(port_of(url), f"held-{i}") for i in range(50)]
        channel = WebhookChannel("sms", f"{url}/sms")
        [free] = channel.send([message("free")])
        channel.close()
        readable, _, _ = select.select(held, [], [], 0)
        records = list(provider.records)
        for sock in held:
            sock.close()
    assert free == SendResult.sent("msg-51")
    assert readable == []
    assert sorted(r.key for r in records[:50]) == sorted(f"held-{i}" for i in range(50))
    assert [(r.key, r.status) for r in records[50:]] == [("free", 200)]
    assert all(r.status == 0 for r in records[:50])


def test_stats_and_records_over_http_and_connection_close(
    fast: tuple[LatencyProvider, str],
) -> None:
    provider, url = fast
    channel = WebhookChannel("sms", f"{url}/sms")
    channel.send([message("h-1"), message("h-2"), message("h-1")])
    channel.close()
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url))
    conn.request("GET", "/stats", headers={"Connection": "close"})
    answer = conn.getresponse()
    stats = json.loads(answer.read())
    assert answer.getheader("Connection") == "close"
    conn.close()
    assert (stats["delivered"], stats["keys"], stats["duplicate_keys"]) == (3, 2, 1)
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url))
    second = provider.records[1].at
    conn.request("GET", f"/records?since={second}")
    records = json.loads(conn.getresponse().read())
    conn.request("GET", f"/stats?since={second}&until={second + 3600}")
    windowed = json.loads(conn.getresponse().read())
    conn.close()
    assert [r[2] for r in records] == ["h-2", "h-1"]
    assert (windowed["delivered"], windowed["duplicate_keys"]) == (2, 0)
    assert windowed["per_second"] == round(2 / 3600, 2)


def test_bad_requests_get_a_400_naming_what_is_wrong(fast: tuple[LatencyProvider, str]) -> None:
    provider, url = fast
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url))
    conn.request("POST", "/bot1:a/sendMessage", body=b'{"text": "no chat"}')
    answer = conn.getresponse()
    assert answer.status == 400
    assert "chat_id" in json.loads(answer.read())["error"]
    conn.request("PUT", "/sms", body=b"{}")
    assert conn.getresponse().status == 405
    conn.close()
    sock = socket.create_connection(("127.0.0.1", port_of(url)))
    sock.sendall(b"NONSENSE\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
    sock.close()
    assert provider.records == []


def test_max_in_window_counts_a_half_open_second() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 1.0, 2.0]) == 1
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert max_in_window([3.0, 0.2, 0.1, 0.3, 9.0]) == 3
    assert max_in_window([0.0, 0.1, 0.2], width=0.15) == 2


def test_summarize_keeps_to_its_window() -> None:
    records = [Record(float(t), 0.0, key, outcome, outcome == "ok", 200)
               for t, key, outcome in [(1, "a", "ok"), (2, "b", "500"), (3, "a", "ok"),
                                       (4, "c", "ok"), (5, "a", "ok")]]
    every = summarize(records)
    assert (every["requests"], every["delivered"], every["keys"]) == (5, 4, 2)
    assert (every["duplicate_keys"], every["duplicate_messages"]) == (1, 2)
    assert every["per_second"] is None
    part = summarize(records, since=2, until=4)
    assert (part["requests"], part["delivered"], part["duplicate_keys"]) == (2, 1, 0)
    assert part["outcomes"] == {"500": 1, "ok": 1}
    assert part["per_second"] == 0.5


@pytest.mark.parametrize(("argv", "field"), [
    (["--fail", "1.5"], "--fail"), (["--latency", "-1"], "--latency"),
    (["--failures", "500,teapot"], "--failures"), (["--retry-after", "-2"], "--retry_after"),
])
def test_bad_options_are_refused_naming_the_option(
    argv: list[str], field: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert field in capsys.readouterr().err


def test_runs_as_a_module_and_prints_its_url() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bench.latency_provider", "--latency", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        channel = WebhookChannel("sms", f"{url}/anything")
        assert channel.send([message("m-1")]) == [SendResult.sent("msg-1")]
        channel.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
