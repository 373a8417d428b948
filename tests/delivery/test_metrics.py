"""The worker's metrics: the Prometheus text format (0.0.4), the lag histogram and its
quantiles, thread safety, and the /metrics endpoint over a real socket."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import assert_no_stranded_enrollments
from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.metrics import (
    CONTENT_TYPE,
    Histogram,
    LogSummary,
    Metrics,
    queue_due_now,
    queue_due_now_closing,
    serve,
)
from touchflow.visits.models import Visit

# One sample line of the text format: name, optional {label="value",…}, a value.
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(
    rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{{{LABEL}(?:,{LABEL})*\}})? "
    r"(?:[-+]?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|\+Inf|-Inf|NaN)$"
)
META = re.compile(r"^# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                  r"(?:counter|gauge|histogram|summary|untyped))$")


def assert_valid_exposition(text: str) -> None:
    assert text.endswith("\n")
    for line in text.splitlines():
        assert SAMPLE.match(line) or META.match(line), line


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_render_is_the_text_format_with_counters_by_account() -> None:
    metrics = Metrics()
    metrics.sent("warsaw/sms", 0.07, provider="twilio")
    metrics.sent("warsaw/sms", 2.0, provider="twilio")
    metrics.sent("london/email", 0.2, provider="mailgun")
    metrics.failed("warsaw/sms", "retry", provider="twilio")
    metrics.failed("warsaw/sms", "dead", provider="twilio")
    metrics.failed("warsaw/sms", "dead", provider="twilio")
    metrics.rate_waited("warsaw/sms", 1.5, provider="twilio")
    metrics.rate_waited("warsaw/sms", 0.25, provider="twilio")
    metrics.in_flight(3)
    text = metrics.render(queue_due=12)
    assert_valid_exposition(text)
    lines = text.splitlines()
    for expected in (
        "# TYPE touchflow_sends_total counter",
        'touchflow_sends_total{provider="twilio",account="warsaw/sms"} 2',
        'touchflow_sends_total{provider="mailgun",account="london/email"} 1',
        'touchflow_send_failures_total{provider="twilio",account="warsaw/sms",kind="retry"} 1',
        'touchflow_send_failures_total{provider="twilio",account="warsaw/sms",kind="dead"} 2',
        'touchflow_rate_limit_wait_seconds_total{provider="twilio",account="warsaw/sms"} 1.75',
        "# TYPE touchflow_send_lag_seconds histogram",
        'touchflow_send_lag_seconds_bucket{le="0.05"} 0',
        'touchflow_send_lag_seconds_bucket{le="0.1"} 1',
        'touchflow_send_lag_seconds_bucket{le="0.25"} 2',
        'touchflow_send_lag_seconds_bucket{le="2.5"} 3',
        'touchflow_send_lag_seconds_bucket{le="3600"} 3',
        'touchflow_send_lag_seconds_bucket{le="+Inf"} 3',
        "touchflow_send_lag_seconds_sum 2.27",
        "touchflow_send_lag_seconds_count 3",
        "touchflow_in_flight 3",
        "# TYPE touchflow_queue_due gauge",
        "touchflow_queue_due 12",
    ):
        assert expected in lines, expected
    # Each metric's HELP and TYPE come once, before its samples.
    assert sum(1 for ln in lines if ln.startswith("# TYPE touchflow_sends_total ")) == 1
    assert "touchflow_queue_due" not in Metrics().render()


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.sent('odd "shop"\\\nname', 1.0)
    line = next(ln for ln in metrics.render().splitlines() if ln.startswith("touchflow_sends_"))
    assert line == 'touchflow_sends_total{provider="",account="odd \\"shop\\"\\\\\\nname"} 1'
    assert_valid_exposition(metrics.render())


def test_a_failure_named_by_the_touchs_state_counts_and_nothing_raises() -> None:
    metrics = Metrics()
    metrics.failed("account:3", "queued")  # retried: the touch is queued again
    metrics.failed("account:3", "retry")
    metrics.failed("account:3", "expired")  # not one of the four: counted as given
    lines = metrics.render().splitlines()
    assert 'touchflow_send_failures_total{provider="",account="account:3",kind="retry"} 2' in lines
    assert 'touchflow_send_failures_total{provider="",account="account:3",kind="expired"} 1' in (
        lines
    )


def test_lag_quantiles_interpolate_inside_the_bucket_like_histogram_quantile() -> None:
    metrics = Metrics()
    assert metrics.lag_quantile(0.5) is None
    for _ in range(100):
        metrics.sent("a", 0.07)  # all in (0.05, 0.1]
    assert metrics.lag_quantile(0.5) == pytest.approx(0.075)
    assert metrics.lag_quantile(0.99) == pytest.approx(0.0995)
    for _ in range(100):
        metrics.sent("a", 40.0)  # (30, 60]
    assert metrics.lag_quantile(0.5) == pytest.approx(0.1)
    assert metrics.lag_quantile(0.99) == pytest.approx(30 + 30 * 98 / 100)
    with pytest.raises(ValueError, match="q: must be between 0 and 1"):
        metrics.lag_quantile(99)


def test_a_lag_beyond_the_last_bucket_reads_as_the_last_bound_and_early_is_zero() -> None:
    histogram = Histogram((1.0, 10.0))
    histogram.observe(5000.0)
    assert histogram.quantile(0.5) == 10.0
    metrics = Metrics()
    metrics.sent("a", -3.0)  # sent before due (clock skew): no lag
    assert "touchflow_send_lag_seconds_sum 0" in metrics.render().splitlines()


def test_counts_from_many_threads_add_up_exactly() -> None:
    metrics = Metrics()

    def work() -> None:
        for _ in range(2000):
            metrics.sent("a", 0.3)
            metrics.failed("a", "retry")
            metrics.rate_waited("a", 0.5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = metrics.render().splitlines()
    assert 'touchflow_sends_total{provider="",account="a"} 16000' in lines
    assert 'touchflow_send_failures_total{provider="",account="a",kind="retry"} 16000' in lines
    assert 'touchflow_rate_limit_wait_seconds_total{provider="",account="a"} 8000' in lines
    assert "touchflow_send_lag_seconds_count 16000" in lines


def test_the_log_summary_says_what_happened_since_its_last_line_and_is_silent_when_idle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = [0.0]
    metrics = Metrics()
    summary = LogSummary(metrics, every=60, monotonic=lambda: ticks[0])
    metrics.sent("a", 1000.0)  # in (600, 1800]: p50 600 + 1200 / 2
    caplog.set_level("INFO", logger="touchflow.delivery.metrics")
    ticks[0] = 59.0
    summary.tick()
    assert caplog.records == []
    ticks[0] = 60.0
    summary.tick()
    [first] = caplog.records
    assert first.getMessage() == (
        "1 sent, 0 failed in the last 60 s; lag from due to sent p50 1200.00 s, p99 1788.00 s"
    )
    for _ in range(99):
        metrics.sent("a", 0.07)
    metrics.failed("a", "dead")
    ticks[0] = 120.0
    summary.tick()
    second = caplog.records[1]
    # The second window holds only its own sends: the 1000 s lag is no longer in it.
    assert (second.sent, second.failed) == (99, 1)  # type: ignore[attr-defined]
    assert second.lag_p50 == pytest.approx(0.05 + 0.05 * 49.5 / 99)  # type: ignore[attr-defined]
    assert second.lag_p99 == pytest.approx(0.05 + 0.05 * 98.01 / 99)  # type: ignore[attr-defined]
    ticks[0] = 180.0
    summary.tick()
    assert len(caplog.records) == 2


@pytest.fixture
def endpoint() -> Iterator[Callable[..., str]]:
    servers = []

    def start(metrics: Metrics, queue_depth: Callable[[], int] | None = None) -> str:
        server = serve(metrics, 0, queue_depth=queue_depth)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_endpoint_answers_get_metrics_and_counts_the_queue_on_each_scrape(
    endpoint: Callable[..., str],
) -> None:
    depth = iter([7, 9])
    metrics = Metrics()
    metrics.sent("a", 1.0)
    base = endpoint(metrics, lambda: next(depth))
    status, content_type, body = get(f"{base}/metrics")
    assert (status, content_type) == (200, CONTENT_TYPE)
    assert body == metrics.render(queue_due=7)
    assert "touchflow_queue_due 9" in get(f"{base}/metrics")[2].splitlines()
    assert get(f"{base}/")[0] == 404


def test_a_scrape_still_answers_when_the_queue_cannot_be_counted(
    endpoint: Callable[..., str], caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> int:
        raise RuntimeError("database down")

    metrics = Metrics()
    status, _type, body = get(f"{endpoint(metrics, broken)}/metrics")
    assert status == 200
    assert body == metrics.render()
    assert "could not count the queue" in caplog.text


# -- the queue's depth, from the database -----------------------------------------------


@pytest.mark.usefixtures("flows")
def test_queue_due_now_counts_queued_touches_that_are_due_up_to_a_cap(
    type3_visit: Callable[..., Visit], clock: Clock,
) -> None:
    type3_visit()
    type3_visit(phone="601 234 567", name="Ewa")
    due = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # the thank-you, 3 h after the visit
    assert queue_due_now() == 0
    clock.move_to(due)
    assert queue_due_now() == 2
    assert queue_due_now(cap=1) == 1
    assert queue_due_now(datetime(2026, 6, 2, 14, 59, tzinfo=UTC)) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flows")
def test_the_scrape_thread_counts_the_queue_through_its_own_connection_and_closes_it(
    type3_visit: Callable[..., Visit], clock: Clock, endpoint: Callable[..., str],
) -> None:
    from django.db import connections

    type3_visit()
    clock.move_to(datetime(2026, 6, 2, 16, 0, tzinfo=UTC))
    left_open: list[bool] = []

    def counted() -> int:
        value = queue_due_now_closing()
        left_open.append(connections["default"].connection is not None)
        return value

    base = endpoint(Metrics(), counted)
    assert "touchflow_queue_due 1" in get(f"{base}/metrics")[2].splitlines()
    # Django keeps an in-memory SQLite database's one connection open whatever is asked
    # (closing it would drop the database): only a real server's is closed.
    db = connections["default"]
    in_memory = db.vendor == "sqlite" and db.is_in_memory_db()  # type: ignore[attr-defined]
    assert left_open == [in_memory]


# -- what a dispatcher records into them ---------------------------------------------------


@pytest.mark.usefixtures("flows")
def test_a_dispatcher_counts_its_sends_failures_and_lag(
    type3_visit: Callable[..., Visit], clock: Clock, make_dispatcher: Callable[..., Dispatcher],
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    type3_visit(phone="601 234 567", name="Ewa")
    sink[0].script.append((503, {}))  # the first send fails and will be retried
    clock.move_to(datetime(2026, 6, 2, 15, 0, 30, tzinfo=UTC))  # 30 s after due
    metrics = Metrics()
    make_dispatcher(metrics=metrics).drain()
    lines = metrics.render().splitlines()
    assert 'touchflow_sends_total{provider="webhook",account="channel:sms"} 1' in lines
    assert (
        'touchflow_send_failures_total{provider="webhook",account="channel:sms",kind="retry"} 1'
        in lines
    )
    assert 'touchflow_send_lag_seconds_bucket{le="10"} 0' in lines
    assert 'touchflow_send_lag_seconds_bucket{le="30"} 1' in lines
    assert "touchflow_send_lag_seconds_count 1" in lines
    assert "touchflow_in_flight 0" in lines
    assert_no_stranded_enrollments()
