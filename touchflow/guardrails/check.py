"""``check(text, language)``: what in a text sounds win–lose or pushy, and why."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from touchflow.guardrails.flags import Flag
from touchflow.guardrails.lexicon import Entry, Lexicon, extra_dirs, load
from touchflow.guardrails.patterns import match
from touchflow.guardrails.rules import Rule, apply, occurrences
from touchflow.guardrails.shouting import shouting
from touchflow.guardrails.tokens import Token, tokenize

# How many words before a negatable phrase a negation cancels it ("no need to hurry").
_NEGATION_REACH = 3


def check(text: str, language: str, extra: tuple[Path, ...] | None = None) -> list[Flag]:
    """Every flag in ``text`` (``language``: en, ru or pl), in the order of the text;
    one flag per category and stretch. ``extra``: the business's lexicon folders
    (default: ``TOUCHFLOW_TONE_LEXICONS``). Raises ``LexiconError`` for an unknown
    language or an unreadable lexicon."""
    lexicon = load(language, extra_dirs() if extra is None else extra)
    tokens = tokenize(text, language, lexicon.expansions, lexicon.numbers)
    allowed = _allowed_spans(tokens, lexicon)
    # A phrase's stretch is the formula itself; a rule's spans the words it combined,
    # so where both find a category the phrase's flag is the one kept.
    phrases = _distinct(_sorted(_phrases(text, tokens, lexicon), allowed))
    ruled = _distinct(_sorted(_rules(text, tokens, lexicon), allowed))
    shouted = _sorted(shouting(text, tokens, lexicon), allowed)
    kept = phrases + [f for f in ruled if not _overlaps(f, phrases)]
    return _sorted(kept + shouted, [])


def _sorted(flags: Iterable[Flag], allowed: list[tuple[int, int]]) -> list[Flag]:
    kept = [flag for flag in flags if not _inside(flag, allowed)]
    return sorted(kept, key=lambda f: (f.start, -f.end, f.category, -len(f.words)))


def _phrases(text: str, tokens: list[Token], lexicon: Lexicon) -> Iterator[Flag]:
    is_negation = _IsNegation(lexicon.negations)
    for first, token in enumerate(tokens):
        for index in _candidates(token, lexicon):
            entry = lexicon.entries[index]
            if entry.negatable:
                if _negated(tokens, first, is_negation):
                    continue
                found = match(entry.elements, tokens, first, is_negation)
            else:
                found = match(entry.elements, tokens, first)
            if found is not None:
                yield _flag(text, entry, [tokens[at] for at in found])


def _rules(text: str, tokens: list[Token], lexicon: Lexicon) -> Iterator[Flag]:
    found = occurrences(tokens, lexicon.classes)
    is_negation = _IsNegation(lexicon.negations)

    def negated(first: int) -> bool:
        return _negated(tokens, first, is_negation)

    for rule in lexicon.rules:
        for words in apply(rule, found, tokens, negated):
            yield _flag(text, rule, [tokens[at] for at in words])


def _candidates(token: Token, lexicon: Lexicon) -> list[int]:
    found = [*lexicon.starts.get(token.lemma, ()), *lexicon.anywhere]
    if token.surface != token.lemma:
        found.extend(lexicon.starts.get(token.surface, ()))
    return sorted(set(found))


class _IsNegation:
    def __init__(self, negations: frozenset[str]) -> None:
        self.negations = negations

    def __call__(self, token: Token) -> bool:
        return token.surface in self.negations or token.lemma in self.negations


def _negated(tokens: list[Token], first: int, is_negation: _IsNegation) -> bool:
    """A negation in the same sentence just before the phrase: "no need to hurry"."""
    sentence = tokens[first].sentence
    before = tokens[max(0, first - _NEGATION_REACH):first]
    return any(t.sentence == sentence and is_negation(t) for t in before)


def _allowed_spans(tokens: list[Token], lexicon: Lexicon) -> list[tuple[int, int]]:
    spans = []
    for first in range(len(tokens)):
        for elements in lexicon.allow:
            found = match(elements, tokens, first)
            if found is not None:
                spans.append((tokens[found[0]].start, tokens[found[-1]].end))
    return spans


def _inside(flag: Flag, spans: list[tuple[int, int]]) -> bool:
    return any(start <= flag.start and flag.end <= end for start, end in spans)


def _flag(text: str, entry: Entry | Rule, words: list[Token]) -> Flag:
    # A contraction's parts share one place: "don't" is one word found, not "do", "not".
    places = dict.fromkeys((w.start, w.end) for w in words)
    return Flag(
        category=entry.category,
        start=words[0].start,
        end=words[-1].end,
        words=tuple(text[start:end] for start, end in places),
        why=entry.why,
        suggestion=entry.suggestion,
    )


def _distinct(flags: list[Flag]) -> list[Flag]:
    """One flag of a category per stretch: the flag found first (sorted by start, then
    the longest stretch and the most words) hides those of its category it overlaps."""
    kept: list[Flag] = []
    for flag in flags:
        if not _overlaps(flag, kept):
            kept.append(flag)
    return kept


def _overlaps(flag: Flag, kept: list[Flag]) -> bool:
    """Whether a flag of the same category shares part of ``flag``'s stretch."""
    return any(k.category == flag.category and k.start < flag.end and flag.start < k.end
               for k in kept)
