"""The delivery benchmark's arithmetic: the channel it configures and how it reads lag."""

from __future__ import annotations

from bench.delivery_bench import Options, channel_spec, lag_summary, percentile
from touchflow.delivery.channels.registry import parse_spec


def test_the_channel_points_at_the_provider_with_timeout_and_rate() -> None:
    base = "http://127.0.0.1:4321"
    assert channel_spec(base, Options()) == "sms=http://127.0.0.1:4321/sms?timeout=5"
    spec = channel_spec(base, Options(rate=30, timeout=0.5))
    assert spec == "sms=http://127.0.0.1:4321/sms?timeout=0.5&rate=30"
    assert parse_spec(spec) == {"sms": "http://127.0.0.1:4321/sms?timeout=0.5&rate=30"}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0


def test_lag_counts_each_touch_once_from_its_first_arrival() -> None:
    due = {"a": 100.0, "b": 101.0, "c": 102.0, "never": 103.0}
    arrivals = [[0.0, 100.5, "a"], [0.0, 101.25, "b"], [0.0, 109.0, "a"],  # a twice
                [0.0, 104.0, "c"], [0.0, 50.0, "next-step"]]  # not a first-step touch
    summary = lag_summary(arrivals, due)
    assert summary == {"touches": 4, "arrived": 3, "p50_s": 0.5, "p95_s": 2.0,
                       "p99_s": 2.0, "max_s": 2.0, "min_s": 0.25}
    assert lag_summary([], due) == {"touches": 4, "arrived": 0}
