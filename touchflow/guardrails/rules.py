"""Clause rules: a behaviour found by the classes of words it combines, not a phrase.

A phrase list finds the formulas it lists; a rule finds a behaviour by what any way of
saying it must contain. "Blame" is a word aimed at the customer (class ``you``) near a
word of fault (class ``neglect``: forget, ignore, misuse, overload…) in one sentence,
in any order, whatever stands between: ``@neglect @you``. A class is a list of words
and short phrases in the lexicon's phrase syntax (``lexicons/*.yaml``, ``classes``), so
a store extends it as it extends the phrases.

A rule is written as its items separated by spaces:

- ``@class`` — any word or phrase of the class; ``word`` — a phrase word (``a|b``,
  ``=form``, ``stem*``, ``*end``, ``<n>``), a class of one;
- ``^word`` — the word first in its sentence ("^no": "No, the price was…");
- ``!item`` — the rule does not apply when this is in the sentence ("sorry", "we");
- ``~n`` — all items within ``n`` words of the first (default ``WINDOW``).

The first item is the rule's cue: in a negatable category a negation just before it
cancels the rule ("no rush", "not at risk").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from touchflow.guardrails.patterns import Element, match
from touchflow.guardrails.tokens import Token

WINDOW = 12  # words around the cue in which the other items are looked for

Phrase = tuple[Element, ...]


@dataclass(frozen=True)
class Rule:
    category: str
    text: str
    needs: tuple[str, ...]  # class names; the first is the cue
    unless: tuple[str, ...]
    window: int
    why: str
    suggestion: str
    negatable: bool


@dataclass(frozen=True)
class Classes:
    """Each class's phrases, indexed like the lexicon's entries by their first word."""

    starts: Mapping[str, tuple[tuple[str, Phrase], ...]]
    anywhere: tuple[tuple[str, Phrase], ...]

    @classmethod
    def of(cls, phrases: Mapping[str, tuple[Phrase, ...]]) -> Classes:
        starts: dict[str, list[tuple[str, Phrase]]] = {}
        anywhere = []
        for name, options in phrases.items():
            for phrase in options:
                keys = phrase[0].keys
                if not keys:
                    anywhere.append((name, phrase))
                for key in keys:
                    starts.setdefault(key, []).append((name, phrase))
        return cls({k: tuple(v) for k, v in starts.items()}, tuple(anywhere))


# Where a class was found: the indexes of its words.
Found = dict[str, list[tuple[int, ...]]]


def occurrences(tokens: list[Token], classes: Classes) -> Found:
    """Every place of every class in the text."""
    found: Found = {}
    for first, token in enumerate(tokens):
        options = [*classes.starts.get(token.lemma, ()), *classes.anywhere]
        if token.surface != token.lemma:
            options.extend(classes.starts.get(token.surface, ()))
        starts_sentence = first == 0 or tokens[first - 1].sentence != token.sentence
        for name, phrase in options:
            if name.startswith("^") and not starts_sentence:
                continue
            at = match(phrase, tokens, first)
            if at is not None and at not in found.setdefault(name, []):
                found[name].append(at)
    return found


def apply(
    rule: Rule, found: Found, tokens: list[Token], negated: Callable[[int], bool]
) -> Iterator[tuple[int, ...]]:
    """The words of each place where ``rule`` holds: its cue, and every other item in
    the same sentence within the window, and none of its exceptions there."""
    for cue in found.get(rule.needs[0], ()):
        if rule.negatable and negated(cue[0]):
            continue
        sentence = tokens[cue[0]].sentence
        words = [cue]
        for need in rule.needs[1:]:
            used = {i for w in words for i in w}  # one word is not two items
            places = [p for p in found.get(need, ()) if used.isdisjoint(p)]
            near = _nearest(places, cue[0], sentence, rule.window, tokens)
            if near is None:
                break
            words.append(near)
        else:
            if not any(_in_sentence(found.get(u, ()), sentence, tokens) for u in rule.unless):
                yield tuple(sorted({i for w in words for i in w}))


def _nearest(
    places: list[tuple[int, ...]], cue: int, sentence: int, window: int,
    tokens: list[Token],
) -> tuple[int, ...] | None:
    near = [p for p in places
            if tokens[p[0]].sentence == sentence and abs(p[0] - cue) <= window]
    return min(near, key=lambda p: abs(p[0] - cue)) if near else None


def _in_sentence(
    places: list[tuple[int, ...]] | tuple[()], sentence: int, tokens: list[Token]
) -> bool:
    return any(tokens[p[0]].sentence == sentence for p in places)
