"""The lexicons: one YAML file per language in ``lexicons/``, and a business's own.

A file has ``categories`` (each: ``why``, ``suggestion``, ``phrases``; a phrase is a
string or a mapping with ``phrase`` and optionally its own ``why``, ``suggestion``,
``gap`` and ``negatable``), ``negations`` (words that cancel a negatable phrase just
before it: "no rush"), ``allow`` (phrases within which nothing is flagged: "if
you're in a hurry"), ``acronyms`` (capitals that are not shouting: SMS, PLN),
``codes`` (words after which a word in capitals is a code to type: "code SPRING"),
``expansions`` (contractions read as their words), ``numbers`` (number words that
"<n>" finds) and ``classes`` (named lists of words and short phrases that a category's
``rules`` combine: ``@neglect @you``; see ``rules.py``). A business's files
(``TOUCHFLOW_TONE_LEXICONS``: folders, separated like PATH, each with ``en.yaml``,
``ru.yaml`` and/or ``pl.yaml``) are merged in: their phrases, allowed phrases, acronyms, codes,
negations, class words and rules are added, their ``why``/``suggestion`` replace the
built-in ones. See docs/decisions/0031-tone-check.md.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from touchflow.guardrails.categories import CATEGORIES, LANGUAGES
from touchflow.guardrails.patterns import Element, PatternError, parse
from touchflow.guardrails.rules import WINDOW, Classes, Phrase, Rule
from touchflow.guardrails.tokens import lemma

BUILT_IN = Path(__file__).with_name("lexicons")
ENV = "TOUCHFLOW_TONE_LEXICONS"
# Negatable by default: a negation before these is the honest opposite ("no rush").
_NEGATABLE = frozenset({"urgency", "scarcity", "obligation", "fear"})
_KEYS = frozenset(
    {"categories", "negations", "allow", "acronyms", "codes", "expansions", "numbers",
     "classes"})
_ENTRY_KEYS = frozenset({"phrase", "why", "suggestion", "gap", "negatable"})


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Entry:
    category: str
    phrase: str
    elements: tuple[Element, ...]
    why: str
    suggestion: str
    negatable: bool


@dataclass(frozen=True)
class Lexicon:
    language: str
    entries: tuple[Entry, ...]
    starts: Mapping[str, tuple[int, ...]]  # a lemma or form → entries that may start there
    anywhere: tuple[int, ...]  # entries whose first word is a prefix or a number
    allow: tuple[tuple[Element, ...], ...]
    negations: frozenset[str]
    acronyms: frozenset[str]
    codes: frozenset[str]  # lemmas of words after which capitals are a code ("kod ZIMA")
    vocabulary: frozenset[str]  # every word the lexicon's phrases and classes name
    numbers: frozenset[str]  # number words, lemmas: "<n>" finds them as it finds digits
    expansions: Mapping[str, tuple[str, ...]]
    advice: Mapping[str, tuple[str, str]]  # category → (why, suggestion)
    classes: Classes = Classes({}, ())
    rules: tuple[Rule, ...] = ()


def extra_dirs() -> tuple[Path, ...]:
    """The business's lexicon folders named by ``TOUCHFLOW_TONE_LEXICONS``."""
    return tuple(Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p)


@lru_cache(maxsize=32)
def load(language: str, extra: tuple[Path, ...] = ()) -> Lexicon:
    """The built-in lexicon of ``language`` with the business's files merged in (cached:
    a changed file is read by the next process)."""
    if language not in LANGUAGES:
        raise LexiconError(f"unknown language {language!r}; expected one of: "
                           f"{', '.join(LANGUAGES)}")
    raw = _read(BUILT_IN / f"{language}.yaml")
    for folder in extra:
        path = folder / f"{language}.yaml"
        if path.is_file():
            merged = copy.deepcopy(raw)
            _merge(merged, _read(path))
            try:
                _build(language, merged)  # every entry readable, so an error names its file
            except LexiconError as exc:
                raise LexiconError(f"{path}: {exc}") from exc
            raw = merged
    return _build(language, raw)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not set(data) <= _KEYS:
        raise LexiconError(f"{path}: expected a mapping with keys {', '.join(sorted(_KEYS))}")
    for name, category in (data.get("categories") or {}).items():
        if name not in CATEGORIES:
            raise LexiconError(f"{path}: unknown category {name!r}; expected one of: "
                               f"{', '.join(CATEGORIES)}")
        if not isinstance(category, dict):
            raise LexiconError(f"{path}: category {name!r} must be a mapping")
    return data


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key in ("negations", "allow", "acronyms", "codes", "numbers"):
        into[key] = [*(into.get(key) or []), *(extra.get(key) or [])]
    into["classes"] = {**(into.get("classes") or {})}
    for name, words in (extra.get("classes") or {}).items():
        into["classes"][name] = [*(into["classes"].get(name) or []), *(words or [])]
    into["expansions"] = {**(into.get("expansions") or {}), **(extra.get("expansions") or {})}
    categories = into.setdefault("categories", {})
    for name, category in (extra.get("categories") or {}).items():
        mine = categories.setdefault(name, {})
        for key in ("why", "suggestion", "gap"):
            if key in category:
                mine[key] = category[key]
        for key in ("phrases", "rules"):
            mine[key] = [*(mine.get(key) or []), *(category.get(key) or [])]


def _build(language: str, raw: dict[str, Any]) -> Lexicon:
    expansions = {str(k).lower(): tuple(str(v).split())
                  for k, v in (raw.get("expansions") or {}).items()}
    categories = raw.get("categories") or {}
    advice = {name: (str(c.get("why", "")), str(c.get("suggestion", "")))
              for name, c in categories.items()}
    entries = tuple(
        _entry(name, item, category, language, expansions)
        for name, category in categories.items()
        for item in category.get("phrases") or []
    )
    starts: dict[str, list[int]] = {}
    anywhere = []
    for index, entry in enumerate(entries):
        keys = entry.elements[0].keys
        if not keys:
            anywhere.append(index)
        for key in keys:
            starts.setdefault(key, []).append(index)
    classes = {str(name): tuple(_parse(str(p), language, 0, expansions) for p in words or [])
               for name, words in (raw.get("classes") or {}).items()}
    rules = tuple(
        _rule(name, str(text), category, language, expansions, classes)
        for name, category in categories.items()
        for text in category.get("rules") or []
    )
    return Lexicon(
        language=language,
        entries=entries,
        starts={key: tuple(found) for key, found in starts.items()},
        anywhere=tuple(anywhere),
        allow=tuple(_parse(str(p), language, 1, expansions) for p in raw.get("allow") or []),
        negations=frozenset(str(w).lower() for w in raw.get("negations") or []),
        acronyms=frozenset(str(w).upper() for w in raw.get("acronyms") or []),
        codes=frozenset(lemma(str(w).lower(), language) for w in raw.get("codes") or []),
        vocabulary=frozenset(
            word for elements in [*(e.elements for e in entries), *_phrases(classes)]
            for element in elements for word in element.lemmas | element.surfaces),
        numbers=frozenset(lemma(str(w).lower(), language) for w in raw.get("numbers") or []),
        expansions=expansions,
        advice=advice,
        classes=Classes.of(classes),
        rules=rules,
    )


def _phrases(classes: Mapping[str, tuple[Phrase, ...]]) -> list[Phrase]:
    return [phrase for options in classes.values() for phrase in options]


def _entry(
    name: str, item: Any, category: dict[str, Any], language: str,
    expansions: Mapping[str, tuple[str, ...]],
) -> Entry:
    spec = item if isinstance(item, dict) else {"phrase": item}
    if not set(spec) <= _ENTRY_KEYS or "phrase" not in spec:
        raise LexiconError(f"{language}: {name}: an entry needs 'phrase' and may have "
                           f"{', '.join(sorted(_ENTRY_KEYS - {'phrase'}))}: {item!r}")
    gap = int(spec.get("gap", category.get("gap", 1)))
    return Entry(
        category=name,
        phrase=str(spec["phrase"]),
        elements=_parse(str(spec["phrase"]), language, gap, expansions),
        why=str(spec.get("why", category.get("why", ""))),
        suggestion=str(spec.get("suggestion", category.get("suggestion", ""))),
        negatable=bool(spec.get("negatable", name in _NEGATABLE)),
    )


def _parse(
    phrase: str, language: str, gap: int, expansions: Mapping[str, tuple[str, ...]]
) -> tuple[Element, ...]:
    try:
        return parse(phrase, language, gap, expansions)
    except PatternError as exc:
        raise LexiconError(f"{language}: {exc}") from exc


def _rule(
    name: str, text: str, category: dict[str, Any], language: str,
    expansions: Mapping[str, tuple[str, ...]], classes: dict[str, tuple[Phrase, ...]],
) -> Rule:
    """A rule's items read; a word written in the rule becomes a class of one (added to
    ``classes``)."""
    needs: list[str] = []
    unless: list[str] = []
    window = WINDOW
    for item in text.split():
        if item.startswith("~") and item[1:].isdigit():
            window = int(item[1:])
            continue
        into = unless if item.startswith("!") else needs
        into.append(_class(item.lstrip("!"), language, expansions, classes))
    if not needs:
        raise LexiconError(f"{language}: {name}: rule {text!r} needs at least one item")
    why, suggestion = str(category.get("why", "")), str(category.get("suggestion", ""))
    return Rule(name, text, tuple(needs), tuple(unless), window, why, suggestion,
                name in _NEGATABLE)


def _class(
    item: str, language: str, expansions: Mapping[str, tuple[str, ...]],
    classes: dict[str, tuple[Phrase, ...]],
) -> str:
    if item.startswith("@"):
        if item[1:] not in classes:
            raise LexiconError(f"{language}: unknown class {item!r}")
        return item[1:]
    if item not in classes:
        classes[item] = (_parse(item.lstrip("^"), language, 1, expansions),)
    return item
