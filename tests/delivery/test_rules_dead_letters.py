"""Issue 13: dead letters group by a normalised reason, so similar failures read as one."""

from __future__ import annotations

import pytest

from touchflow.delivery.dead_letters import UNCERTAIN, group_key, normalise_reason


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ('HTTP 400: {"id": "msg-17"}', 'HTTP 400: {"id": "msg-<n>"}'),
        ("template: unknown variable store.phone", "template: unknown variable store.phone"),
        ("recipient +48 501 234 567 is blocked", "recipient <phone> is blocked"),
        ("bounced: anna.nowak@example.pl", "bounced: <email>"),
        ("timed out after 30.5 s to https://api.example/v1/send?id=4",
         "timed out after <n> s to <url>"),
        ("SM8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d refused", "<id> refused"),
        ("job 1b4e28ba-2fa1-11d2-883f-0016d3cca427 lost", "job <id> lost"),
        ("  two\n  lines  ", "two lines"),
    ],
)
def test_what_differs_between_equal_failures_is_taken_out(text: str, normalised: str) -> None:
    assert normalise_reason(text) == normalised


def test_different_problems_stay_apart() -> None:
    assert group_key("dead", "HTTP 400: bad") != group_key("dead", "HTTP 404: bad")
    assert group_key("dead", "HTTP 400: x 1") == group_key("dead", "HTTP 400: x 2")
    assert group_key("dead", "") != group_key("dead", "HTTP 400: x")


def test_uncertain_is_one_group_whatever_its_text() -> None:
    assert group_key("uncertain", "timed out") == group_key("uncertain", "") == UNCERTAIN
    assert group_key("dead", "uncertain") != UNCERTAIN
