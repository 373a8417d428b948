"""The sandbox that staff-written message templates run in, and what they may use.

Templates see only the variables ``message_context`` builds; the sandbox refuses
attribute access to anything unsafe, so a template cannot reach code or other data.
The send-time context (the dispatcher) and the validation sample (``flows validate``,
the chain editor) are both built by ``message_context``: a template that renders in
validation renders at send time, and one that would fail at send time fails here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# ``{{ greeting }}``: how a message opens, with the customer's first name or, for a
# customer the counter knows only by a number, without one, so that no message starts
# with ", three tips…". English ends on a comma (the sentence goes on), Russian and
# Polish on "!" (a new sentence follows).
GREETINGS = {
    "en": ("Hello {name},", "Hello,"),
    "ru": ("Здравствуйте, {name}!", "Здравствуйте!"),
    "pl": ("Dzień dobry, {name}!", "Dzień dobry!"),
}


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def greeting(language: str, first: str) -> str:
    named, plain = GREETINGS.get(language, GREETINGS["en"])
    return named.format(name=first) if first.strip() else plain


def message_context(
    customer_name: str, store_name: str, seller_name: str, unsubscribe_url: str,
    rating_url: str = "", referral_code: str = "", referral_url: str = "",
    review_url: str = "",
) -> dict[str, Any]:
    """Everything a message template may use, for one customer. The one definition:
    the dispatcher calls it with real rows, validation with ``SAMPLE_CONTEXT``'s values."""
    return {
        "customer": {"name": customer_name, "first_name": first_name(customer_name)},
        "store": {"name": store_name},
        "seller": {"name": seller_name, "first_name": first_name(seller_name)},
        "unsubscribe_url": unsubscribe_url,
        # A check-in's one-tap rating page ("" on other steps); appended to SMS and
        # e-mail where the template does not place it.
        "rating_url": rating_url,
        # A referral request's code and link; a review request's link (signed, counted).
        "referral_code": referral_code,
        "referral_url": referral_url,
        "review_url": review_url,
    }


def with_greeting(context: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The context plus ``greeting`` in the message's language (known only once the
    renderer has picked the language)."""
    customer = context.get("customer") or {}
    return {**context, "greeting": greeting(language, customer.get("first_name", ""))}


SAMPLE_MESSAGE_CONTEXT = message_context(
    "Anna Nowak", "Meble Nowak", "Piotr Kowalski", "https://touchflow.example/u/sample",
    "https://touchflow.example/r/sample", "K7M2Q9XA", "https://touchflow.example/ref/K7M2Q9XA",
    "https://touchflow.example/go/sample",
)


def sample_context(language: str) -> dict[str, Any]:
    """What validation renders a template of ``language`` with."""
    return with_greeting(SAMPLE_MESSAGE_CONTEXT, language)


SAMPLE_CONTEXT = sample_context("en")
ALLOWED_VARIABLES = frozenset(SAMPLE_CONTEXT)


def _dotted(context: Mapping[str, Any]) -> Iterator[str]:
    for name, value in context.items():
        if isinstance(value, Mapping):
            yield from (f"{name}.{attr}" for attr in value)
        else:
            yield name


# What an author may write, for error messages: customer.first_name, customer.name, …
VARIABLES = tuple(sorted(_dotted(SAMPLE_CONTEXT)))


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    # Messages are plain text (SMS, messengers); e-mail bodies are escaped where
    # they are turned into HTML, not here.
    return ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
    )


def _attribute(node: nodes.Node) -> tuple[str, str] | None:
    """(variable, attribute) of ``store.phone`` or ``store['phone']``, else None."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.node.name, node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.node.name, node.arg.value
    return None


class PlainTemplate:
    """A template that is only text and ``{{ variable }}`` / ``{{ variable.attribute }}``
    substitutions, rendered by joining strings.

    Almost every message template is of this kind ("{{ greeting }} thank you for
    visiting {{ store.name }}"); Jinja renders it the same, at several times the cost
    (a new context per render), and the dispatcher renders one for every touch it
    sends. ``render`` answers None wherever Jinja could answer differently — a value
    that is missing or is not a string — and the caller lets Jinja render it, so the
    sandbox, StrictUndefined and ``explain_failure`` keep the last word.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: list[str | tuple[str, str | None]]) -> None:
        self.parts = parts

    def render(self, context: Mapping[str, Any]) -> str | None:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, attribute = part
            value = context.get(name)
            if attribute is not None:
                # What the sandbox does for a dict: the key (a dict's own attributes
                # were left to Jinja by ``plain_template``).
                value = value.get(attribute) if type(value) is dict else None
            if type(value) is not str:
                return None
            out.append(value)
        return "".join(out)


def plain_template(parsed: nodes.Template) -> PlainTemplate | None:
    """The parsed template as a ``PlainTemplate``, or None if it has anything but text
    and plain substitutions (a tag, a filter, a constant, an expression). The text is
    the lexer's: newlines normalised and whitespace control applied, as Jinja outputs it."""
    parts: list[str | tuple[str, str | None]] = []
    for node in parsed.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
            elif isinstance(child, nodes.Name) and child.ctx == "load":
                parts.append((child.name, None))
            else:
                pair = _attribute(child)
                if pair is None or (isinstance(child, nodes.Getattr) and hasattr(dict, pair[1])):
                    return None  # ``customer.items`` is the dict's method to Jinja
                parts.append(pair)
    return PlainTemplate(parts)


def unknown_attributes(parsed: nodes.Template) -> list[str]:
    """The ``variable.attribute`` uses that no message has (``store.phone``), in order
    of appearance: the static twin of the StrictUndefined error, naming the variable
    that jinja's own message ("'dict object' has no attribute 'phone'") does not."""
    found: list[str] = []
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        pair = _attribute(node)
        if pair is None:
            continue
        offered = SAMPLE_CONTEXT.get(pair[0])
        dotted = f"{pair[0]}.{pair[1]}"
        if isinstance(offered, Mapping) and pair[1] not in offered and dotted not in found:
            found.append(dotted)
    return found


def explain_failure(source: str, exc: Exception) -> str:
    """A render failure in words a manager can act on: "unknown variable store.phone"
    when the template reaches for something a message does not have."""
    try:
        unknown = unknown_attributes(environment().parse(source))
    except Exception:  # noqa: BLE001 - the original error is the better report then
        unknown = []
    if unknown:
        return f"unknown variable {', '.join(unknown)}"
    return str(exc)
