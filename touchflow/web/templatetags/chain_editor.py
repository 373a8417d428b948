"""The chain editor's field names and values: ``{% val form "s0" "text" "pl" %}`` is the
value of ``s0.text.pl``; ``{% errs form "s0" "after" as found %}`` its problems."""

from __future__ import annotations

from typing import Any

from django import template

from touchflow.stores.models import LANGUAGE_CHOICES
from touchflow.web import labels
from touchflow.web.chain_form import Form

register = template.Library()


def _name(parts: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in parts)


@register.simple_tag
def name(*parts: Any) -> str:
    return _name(parts)


@register.simple_tag
def val(form: Form, *parts: Any) -> Any:
    return form.get(_name(parts))


@register.simple_tag
def errs(form: Form, *parts: Any) -> list[str]:
    return form.errors.get(_name(parts), [])


@register.filter
def language_name(code: str) -> str:
    return str(dict(LANGUAGE_CHOICES).get(code, code))


@register.filter
def kind_label(kind: str) -> str:
    return labels.kind(kind)


@register.filter
def reason_label(code: str) -> str:
    return labels.reason(code)
