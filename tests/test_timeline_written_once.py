"""Timeline rows are written only by ``touchflow/timeline/events.py``: one function per
kind of row, each with its typed payload (``*Data``) that the pages read back.

A module elsewhere that builds a ``TimelineEvent``, creates one through its manager, or
names the table in SQL writes a payload the pages may not know how to read. Issue 14.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import touchflow

PACKAGE = Path(touchflow.__file__).resolve().parent
OWNER = PACKAGE / "timeline"
WRITING_METHODS = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _writes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "TimelineEvent":
                yield node.lineno, "builds a TimelineEvent"
            if (isinstance(func, ast.Attribute) and func.attr in WRITING_METHODS
                    and "TimelineEvent" in ast.unparse(func.value)):
                yield node.lineno, f"TimelineEvent...{func.attr}()"
        if isinstance(node, ast.Attribute) and node.attr == "_meta" and \
                isinstance(node.value, ast.Name) and node.value.id == "TimelineEvent":
            yield node.lineno, "names TimelineEvent's table"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                "timeline_timelineevent" in node.value.lower():
            yield node.lineno, "names the table in SQL"


def findings(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if OWNER in path.parents or "migrations" in path.parts:
            continue
        for line, what in _writes(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(root.parent)}:{line}: {what}")
    return found


def test_only_timeline_events_writes_timeline_rows() -> None:
    assert findings() == []


def test_the_check_finds_a_writer_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "touchflow" / "messaging" / "writer.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def note(c):\n"
        "    TimelineEvent.objects.create(customer=c, kind='x', data={})\n"
        "    TimelineEvent(customer=c)\n"
        "    cursor.execute('INSERT INTO timeline_timelineevent VALUES (1)')\n",
        encoding="utf-8",
    )
    assert [f.split(": ", 1)[1] for f in findings(tmp_path / "touchflow")] == [
        "TimelineEvent...create()", "builds a TimelineEvent", "names the table in SQL",
    ]
