"""Provider rate limits (issue 9): grants are paced at the rate with a small burst, a 429
holds a key back for every worker, and every provider and channel declares its traits."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from touchflow.delivery import ratelimit
from touchflow.delivery.channels import base, registry
from touchflow.delivery.channels.base import OutgoingMessage
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.channels.outbox import OutboxChannel
from touchflow.delivery.channels.smtp import SmtpChannel
from touchflow.delivery.channels.webhook import WebhookChannel
from touchflow.delivery.models import RateBucket
from touchflow.delivery.ratelimit import Bucket, LocalLimiter, grant, wait_for
from touchflow.messaging import providers
from touchflow.messaging.providers.base import Provider


class FakeMonotonic:
    """A monotonic clock that moves only when told (whole milliseconds, kept as an int so
    the steps add up exactly)."""

    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def tick() -> FakeMonotonic:
    return FakeMonotonic()


def _poll(limiter: ratelimit.RateLimiter, tick: FakeMonotonic, rate: float, ms: int,
          want: int = 100) -> list[int]:
    """Ask every millisecond for ``ms`` milliseconds; the millisecond of each grant."""
    granted: list[int] = []
    for step in range(ms):
        granted += [step] * limiter.acquire("k", rate, want)
        tick.advance(1)
    return granted


def _busiest_second(granted: list[int]) -> int:
    return max(sum(1 for t in granted if start <= t < start + 1000) for start in granted)


# -- the arithmetic, in-process on a driven clock -------------------------------------


def test_grants_are_spaced_at_the_rate_never_in_a_clump(tick: FakeMonotonic) -> None:
    granted = _poll(LocalLimiter(tick), tick, rate=30, ms=3000)
    # A burst of 1.5 lets the second grant come half an interval early, then one every
    # 1/30 s: 0, 17, 50, 84, … ms. 91 in 3 s, and no second ever holds more than 31.
    assert granted[:4] == [0, 17, 50, 84]
    assert len(granted) == 91
    assert _busiest_second(granted) == 31
    gaps = {b - a for a, b in zip(granted[1:], granted[2:], strict=False)}
    assert gaps == {33, 34}


def test_a_quiet_spell_earns_only_the_small_burst(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    assert limiter.acquire("k", 100, 50) == 5  # burst = 5% of a second's worth
    assert limiter.acquire("k", 100, 50) == 0
    tick.advance(60_000)
    assert limiter.acquire("k", 100, 50) == 5  # not 6,000: nothing piles up while idle


def test_want_caps_the_grant_and_zero_wants_nothing(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    assert limiter.acquire("k", 1000, 3) == 3
    assert limiter.acquire("k", 1000, 0) == 0
    assert limiter.acquire("k", 1000, 100) == 47  # the burst of 50, less the 3


def test_keys_are_limited_apart(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    assert limiter.acquire("account:1", 1, 5) == 1
    assert limiter.acquire("account:1", 1, 5) == 0
    assert limiter.acquire("account:2", 1, 5) == 1


def test_wait_says_when_the_next_grant_comes(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    assert limiter.wait("k", 10) == 0
    assert limiter.acquire("k", 10, 5) == 1
    assert limiter.wait("k", 10) == pytest.approx(0.1, abs=1e-6)
    tick.advance(99)
    assert limiter.acquire("k", 10, 5) == 0
    assert limiter.wait("k", 10) == pytest.approx(0.001, abs=1e-6)
    tick.advance(1)
    assert limiter.acquire("k", 10, 5) == 1


def test_backoff_holds_the_key_until_retry_after(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    limiter.backoff("k", 2.0)
    assert limiter.acquire("k", 30, 5) == 0
    assert limiter.wait("k", 30) == pytest.approx(2.0, abs=1e-6)
    limiter.backoff("k", 0.5)  # a shorter Retry-After later never shortens the first
    tick.advance(1999)
    assert limiter.acquire("k", 30, 5) == 0
    assert limiter.acquire("other", 30, 5) == 1
    tick.advance(1)
    assert limiter.acquire("k", 30, 5) == 1


def test_an_unlimited_key_grants_everything_unless_backing_off(tick: FakeMonotonic) -> None:
    limiter = LocalLimiter(tick)
    assert limiter.acquire("k", math.inf, 500) == 500
    assert limiter.acquire("k", math.inf, 500) == 500
    assert limiter.wait("k", math.inf) == 0
    limiter.backoff("k", 1.0)
    assert limiter.acquire("k", math.inf, 500) == 0
    assert limiter.wait("k", math.inf) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("rate", [0, -1, math.nan])
def test_a_rate_must_be_more_than_zero(tick: FakeMonotonic, rate: float) -> None:
    with pytest.raises(ValueError, match="rate: must be more than zero"):
        LocalLimiter(tick).acquire("k", rate, 1)


def test_grant_and_wait_agree() -> None:
    # Whenever wait says 0, a grant follows; whenever it says more, none does.
    bucket = Bucket()
    now = 0.0
    for _ in range(200):
        expect = wait_for(bucket, now, 7.0) == 0
        assert (grant(bucket, now, 7.0, 1) == 1) is expect
        now += 0.013


@pytest.mark.django_db
def test_sqlite_limits_in_process_on_the_injected_clock(tick: FakeMonotonic) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    limiter = ratelimit.for_database(tick)
    assert isinstance(limiter, LocalLimiter)
    assert limiter.acquire("k", 1, 5) == 1
    assert limiter.acquire("k", 1, 5) == 0
    tick.advance(1000)
    assert limiter.acquire("k", 1, 5) == 1
    assert not RateBucket.objects.exists()


# -- PostgreSQL: one row per key, on the database's clock ------------------------------

postgres = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="PostgreSQL only"
)


@pytest.fixture
def key() -> Iterator[str]:
    """A key no other test or run uses (the limiter's rows commit on their own)."""
    name = f"test:{uuid.uuid4().hex}"
    yield name


def _db_clock() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
        row = cursor.fetchone()
    assert row is not None
    return float(row[0])


def _in_thread(work: Callable[[], object]) -> object:
    """Run ``work`` in a thread of its own: its own database connection, in autocommit."""
    def run() -> object:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_workers_together_never_exceed_the_rate(key: str) -> None:
    rate, workers, runs = 100.0, 3, 80
    start = threading.Barrier(workers)
    results: list[tuple[float, float, int]] = []  # (first clock, last clock, granted)

    def worker() -> None:
        limiter = ratelimit.for_database()
        got = 0
        try:
            connection.ensure_connection()
            start.wait()
            began = _db_clock()
            for _ in range(runs):
                got += limiter.acquire(key, rate, 4)
                threading.Event().wait(min(limiter.wait(key, rate), 0.005))
            ended = _db_clock()
        finally:
            connections.close_all()
        results.append((began, ended, got))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every grant happened between the first and the last reading of the database's
    # clock (the limiter's own clock), so at most rate × that span + the burst of 5.
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    total = sum(r[2] for r in results)
    assert total <= rate * elapsed + ratelimit.burst_for(rate)
    assert total >= 0.5 * rate * elapsed  # and the workers were kept busy, not starved
    assert all(r[2] > 0 for r in results)


@postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_a_quiet_key_grants_only_the_burst_to_racing_workers(key: str) -> None:
    # Eight connections ask at once for a key nobody used: its row is made once, and
    # together they get the burst (5 at 100/s) plus what the clock earned meanwhile,
    # not 5 each.
    start = threading.Barrier(8)

    def ask() -> int:
        try:
            connection.ensure_connection()
            start.wait()
            return ratelimit.for_database().acquire(key, 100, 10)
        finally:
            connections.close_all()

    began = _db_clock()
    with ThreadPoolExecutor(8) as pool:
        grants = list(pool.map(lambda _i: ask(), range(8)))
    elapsed = _db_clock() - began
    assert 5 <= sum(grants) <= 5 + 100 * elapsed
    assert sum(grants) < 40
    assert RateBucket.objects.filter(key=key).count() == 1


@postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_backoff_holds_back_every_connection(key: str) -> None:
    limiter = ratelimit.for_database()
    _in_thread(lambda: ratelimit.for_database().backoff(key, 30))
    assert limiter.acquire(key, 30, 5) == 0
    assert limiter.acquire(key, math.inf, 5) == 0
    assert 29 < limiter.wait(key, 30) <= 30
    assert _in_thread(lambda: ratelimit.for_database().acquire(key + ":other", 30, 5)) == 1


@postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_an_acquire_is_one_statement(key: str) -> None:
    limiter = ratelimit.for_database()
    assert limiter.acquire(key, 1, 1) == 1  # first use also makes the row
    with CaptureQueriesContext(connection) as queries:
        assert limiter.acquire(key, 1, 1) == 0
    assert len(queries) == 1
    assert limiter.wait(key, 1) > 0.9
    assert limiter.acquire(key + ":new", math.inf, 7) == 7


# -- traits: every provider and channel declares them ---------------------------------

# What each provider module declares (the comment beside each cites the documentation).
PROVIDER_TRAITS = {
    "telegram": (30.0, False),
    "viber": (50.0, False),
    "whatsapp": (80.0, False),
    "twilio": (1.0, False),
    "smsapi": (100.0, True),
    "mailgun": (75.0, False),
}


def test_every_provider_declares_its_rate_and_whether_it_honours_keys() -> None:
    declared = {}
    for name in providers.MODULES:
        cls = providers.provider_class(name)
        # Declared on the provider's own class: the base class gives no default.
        assert "default_rate" in vars(cls), f"{name}: declare default_rate"
        assert "honours_idempotency_key" in vars(cls), f"{name}: declare honours_idempotency_key"
        assert cls.default_rate > 0
        declared[name] = (cls.default_rate, cls.honours_idempotency_key)
    assert declared == PROVIDER_TRAITS
    assert not hasattr(Provider, "default_rate")
    assert not hasattr(Provider, "honours_idempotency_key")


def test_every_deployment_wide_channel_declares_its_traits() -> None:
    declared = {
        cls.__name__: (cls.default_rate, cls.honours_idempotency_key)
        for cls in (NullChannel, OutboxChannel, SmtpChannel, WebhookChannel)
    }
    assert declared == {
        "NullChannel": (None, True),
        "OutboxChannel": (None, True),
        "SmtpChannel": (None, False),
        "WebhookChannel": (None, True),
    }


MESSAGE = OutgoingMessage(touch_id=1, idempotency_key="k1", channel="sms", address="+48500",
                          text="hi", store_id=7)


def test_a_deployment_wide_http_channel_takes_its_rate_from_the_url() -> None:
    channel = registry.build("sms", "http://127.0.0.1:9/sms?timeout=2&rate=30&keys=off")
    assert isinstance(channel, WebhookChannel)
    assert (channel.rate, channel._path, channel._timeout) == (30.0, "/sms", 2.0)
    route = base.route(channel, MESSAGE)
    assert (route.key, route.rate, route.honours_keys) == ("channel:sms", 30.0, False)
    unlimited = base.route(registry.build("sms", "http://127.0.0.1:9/sms"), MESSAGE)
    assert (unlimited.key, unlimited.rate, unlimited.honours_keys) == ("channel:sms", None, True)
    smtp = base.route(registry.build("email", "smtp://127.0.0.1:1025"), MESSAGE)
    assert (smtp.rate, smtp.honours_keys) == (None, False)


def test_a_channel_that_is_one_account_has_one_route_made_once() -> None:
    channel = registry.build("sms", "http://127.0.0.1:9/sms?rate=30")
    other = registry.build("sms", "http://127.0.0.1:9/sms?rate=5")
    second = OutgoingMessage(touch_id=2, idempotency_key="k2", channel="sms",
                             address="+48501", text="hello", store_id=8)
    first = base.route(channel, MESSAGE)
    assert base.route(channel, second) is first
    assert (base.route(other, MESSAGE).rate, first.rate) == (5.0, 30.0)


@pytest.mark.parametrize("value", ["0", "-3", "fast", "nan", "inf"])
def test_a_bad_rate_in_the_url_names_the_field(value: str) -> None:
    with pytest.raises(ValueError, match="TOUCHFLOW_CHANNELS: rate"):
        registry.build("sms", f"http://127.0.0.1:9/sms?rate={value}")
