"""The chain-file parser as properties. A chain made of any valid parts reads back as
written; any document at all — a valid chain with one value replaced by junk, or random
text — is either a chain or a ``FlowFileError`` whose every problem names a line of the
file, never another exception. Durations print and parse back to themselves. No
database; hypothesis runs derandomized and keeps no example database."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.core.channels import NAMES as CHANNELS
from touchflow.core.durations import format_duration, parse_duration
from touchflow.flows.spec import STEP_KINDS, VISIT_CLASSES, FlowFileError, parse_flow

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=200)

slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
words = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs"), min_codepoint=32),
                min_size=1, max_size=30).map(str.strip).filter(bool)
durations = st.builds(timedelta, days=st.integers(0, 60), hours=st.integers(0, 23),
                      minutes=st.integers(0, 59))
clock = st.builds(time, st.integers(0, 23), st.integers(0, 59))
languages = st.lists(st.sampled_from(["en", "ru", "pl"]), min_size=1, max_size=3, unique=True)


@st.composite
def steps(draw: st.DrawFn, key: str) -> dict[str, Any]:
    # A review request belongs to a chain entered on "answered" alone (no review gating:
    # test_spec_answers); these chains are entered on visits.
    kind = draw(st.sampled_from([k for k in STEP_KINDS if k != "review_request"]))
    step: dict[str, Any] = {"key": key, "kind": kind,
                            "after": format_duration(draw(durations))}
    if draw(st.booleans()):
        step["at"] = draw(clock).strftime("%H:%M")
    texts = {lang: draw(words) for lang in draw(languages)}
    if kind == "call":
        step["script"] = texts
    else:
        channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
        step["channels"] = channels
        step["message"] = {lang: {"text": text, "subject": f"About {text}"}
                           for lang, text in texts.items()}
    return step


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(slugs, min_size=1, max_size=4, unique=True))
    return {
        "slug": draw(slugs),
        "name": draw(words),
        "audience": {"trigger": "visit",
                     "visit_class": draw(st.lists(st.sampled_from(VISIT_CLASSES), min_size=1,
                                                  max_size=3, unique=True))},
        "exit_on": ["purchase"],
        "steps": [draw(steps(key)) for key in keys],
    }


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@DETERMINISTIC
@given(chain=chains())
def test_a_chain_of_valid_parts_reads_back_as_written(chain: dict[str, Any]) -> None:
    spec = parse_flow(_dump(chain))
    assert (spec.slug, spec.name) == (chain["slug"], chain["name"])
    assert [s.key for s in spec.steps] == [s["key"] for s in chain["steps"]]
    for written, read in zip(chain["steps"], spec.steps, strict=True):
        assert read.kind == written["kind"]
        assert read.delay == parse_duration(written["after"])
        assert read.send_at == (time.fromisoformat(written["at"]) if "at" in written else None)
        assert list(read.channels) == written.get("channels", [])
        texts = written.get("message") or {k: {"text": v} for k, v in written["script"].items()}
        assert {lang: m.text for lang, m in read.messages.items()} == {
            lang: body["text"] for lang, body in texts.items()
        }


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _only_line_accurate_refusals(text: str) -> None:
    try:
        parse_flow(text)
    except FlowFileError as exc:
        lines = max(1, len(text.splitlines()))
        assert exc.problems
        assert all(1 <= p.line <= lines + 1 for p in exc.problems), exc


@DETERMINISTIC
@given(chain=chains(), data=st.data())
def test_a_chain_with_any_value_replaced_is_read_or_refused_line_by_line(
    chain: dict[str, Any], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(_paths(chain)))
    _replace(chain, path, data.draw(junk))
    _only_line_accurate_refusals(_dump(chain))


@DETERMINISTIC
@given(text=st.text(max_size=300))
def test_any_text_is_read_or_refused_line_by_line(text: str) -> None:
    _only_line_accurate_refusals(text)


@DETERMINISTIC
@given(span=durations)
def test_a_duration_prints_and_parses_back_to_itself(span: timedelta) -> None:
    assert parse_duration(format_duration(span)) == span
