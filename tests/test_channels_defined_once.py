"""The channel names are listed in one module only, ``touchflow/core/channels.py``.

Any other module that spells two or more of them together (a tuple, list or set of
them, a dict keyed or valued by them, ``x == "sms" or x == "whatsapp"``) keeps a copy
of something the owner defines, and the copies drift apart when a channel is added. A
module may still name one channel where it does something only that channel does
(SMS segments, WhatsApp's template). Decision 0018.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import touchflow
from touchflow.core import channels
from touchflow.messaging.models import Provider

PACKAGE = Path(touchflow.__file__).resolve().parent
OWNER = PACKAGE / "core" / "channels.py"
# Providers that are no channel: a table keyed by them is the providers' registry
# (telegram, viber and whatsapp are the names of a provider and of a channel).
PROVIDERS_ONLY = set(Provider.values) - set(channels.NAMES)


def _strings(nodes: Iterable[ast.expr | None]) -> set[str]:
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _groups(node: ast.AST) -> Iterator[set[str]]:
    """The sets of strings that ``node`` spells side by side."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        yield _strings(node.elts)
    elif isinstance(node, ast.Dict):
        keys = _strings(node.keys)
        if not keys & PROVIDERS_ONLY:
            yield keys
        yield _strings(node.values)
    elif isinstance(node, ast.BoolOp):
        compared = [c for c in node.values if isinstance(c, ast.Compare)]
        yield _strings(side for c in compared for side in (c.left, *c.comparators))


def channel_lists(source: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line, names) of each place in ``source`` that spells two or more channel names
    together."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for group in _groups(node):
            names = group & set(channels.NAMES)
            if len(names) >= 2:
                found.append((getattr(node, "lineno", 0), tuple(sorted(names))))
    return sorted(found)


def offenders(package: Path) -> list[str]:
    """``path:line names`` for every copy of the channel list outside the owner."""
    return [
        f"{path.relative_to(package).as_posix()}:{line} {' '.join(names)}"
        for path in sorted(package.rglob("*.py"))
        if path.resolve() != OWNER and "migrations" not in path.parts
        for line, names in channel_lists(path.read_text(encoding="utf-8"))
    ]


def test_no_module_but_the_owner_lists_channel_names() -> None:
    assert OWNER.is_file()
    assert offenders(PACKAGE) == []


def test_the_check_sees_every_shape_of_a_copy() -> None:
    source = '''
KNOWN = ("telegram", "viber", "whatsapp", "sms", "email")
ORDER = ["telegram", "viber"]
CONTACT = {"sms": "phone", "email": "email"}
BY_PROVIDER = {Provider.TWILIO: "sms", Provider.MAILGUN: "email"}
if channel in {"sms", "whatsapp"}:
    pass
if channel == "sms" or channel == "whatsapp":
    pass
'''
    assert channel_lists(source) == [
        (2, ("email", "sms", "telegram", "viber", "whatsapp")),
        (3, ("telegram", "viber")),
        (4, ("email", "sms")),
        (5, ("email", "sms")),
        (6, ("sms", "whatsapp")),
        (8, ("sms", "whatsapp")),
    ]


def test_what_the_check_lets_through() -> None:
    source = '''
MODULES = {"telegram": "a:B", "viber": "c:D", "twilio": "e:F"}  # keyed by provider
footer = sms_footer if channel == "sms" else link
class ContactKind:
    TELEGRAM = "telegram", "Telegram"
    VIBER = "viber", "Viber"
'''
    assert channel_lists(source) == []
