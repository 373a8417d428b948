"""``check(text, language)``: what in a text sounds win–lose or pushy, and why."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from touchflow.guardrails import model
from touchflow.guardrails.categories import LANGUAGES
from touchflow.guardrails.flags import Flag
from touchflow.guardrails.lexicon import Entry, Lexicon, LexiconError, extra_dirs, load
from touchflow.guardrails.model import Model, Reading
from touchflow.guardrails.patterns import match
from touchflow.guardrails.rules import Rule, apply, occurrences
from touchflow.guardrails.shouting import shouting
from touchflow.guardrails.tokens import Token, tokenize

log = logging.getLogger(__name__)

# How many words before a negatable phrase a negation cancels it ("no need to hurry").
_NEGATION_REACH = 3


def check(text: str, language: str, extra: tuple[Path, ...] | None = None) -> list[Flag]:
    """Every flag in ``text`` (``language``: en, ru or pl), in the order of the text;
    one flag per category and stretch. ``extra``: the business's lexicon folders
    (default: ``TOUCHFLOW_TONE_LEXICONS``). Raises ``LexiconError`` for an unknown
    language or an unreadable lexicon."""
    return combine(evidence(text, language, extra), model.load(language))


def warm(languages: Iterable[str] = LANGUAGES) -> None:
    """Read each language's lexicon, model and lemma dictionary now (~4 s for all
    three, ~95 MB), so a staff member's first reply or preview does not wait for it:
    the web process calls this on a thread when it starts (``touchflow.wsgi``).
    Languages the check does not read are passed over; a lexicon that cannot be read
    is logged here and refused again, with its file and line, where it is used."""
    for language in (code for code in languages if code in LANGUAGES):
        try:
            check("Thank you.", language)
        except LexiconError:
            log.exception("the tone check's data for %r could not be read", language)


@dataclass(frozen=True)
class Evidence:
    """What the lexicon found in a text, before the model is consulted."""

    text: str
    tokens: list[Token]
    lexicon: Lexicon
    allowed: list[tuple[int, int]]
    phrases: list[Flag]
    ruled: list[Flag]
    shouted: list[Flag]


def evidence(text: str, language: str, extra: tuple[Path, ...] | None = None) -> Evidence:
    """The phrases, clause rules and shouting found in ``text``."""
    lexicon = load(language, extra_dirs() if extra is None else extra)
    tokens = tokenize(text, language, lexicon.expansions, lexicon.numbers)
    allowed = _allowed_spans(tokens, lexicon)
    return Evidence(
        text, tokens, lexicon, allowed,
        phrases=_distinct(_sorted(_phrases(text, tokens, lexicon), allowed)),
        ruled=_distinct(_sorted(_rules(text, tokens, lexicon), allowed)),
        shouted=_sorted(shouting(text, tokens, lexicon), allowed),
    )


def combine(found: Evidence, tone: Model | None) -> list[Flag]:
    """The flags of ``found`` and of the model's reading of the text.

    A phrase's stretch is the formula itself; a rule's spans the words it combined, so
    where both find a category the phrase's flag is the one kept. The model reads the
    text as a whole: where it finds it clearly polite (below ``rule_veto``) a clause
    rule's flag is dropped, and below ``phrase_veto`` a phrase's too — a word of a
    rule or a phrase in a polite sentence ("drop us a line", "ships today") is where
    the lexicon's false alarms come from. Shouting is not the model's to judge. The
    model flags a text the lexicon left alone (shouting included: a flag over the
    sentence that only shouts would say the same twice) when its probability reaches
    ``threshold`` and the text reads as the model's language (``Model.knows``: an
    English reply to a Polish customer is not the Polish model's to judge). The model
    does not read allowed phrases (``unallowed``). The three cuts are chosen in
    training (``bench/tone_train.py``)."""
    if tone is None:
        return _sorted(_merged(found.phrases, found.ruled) + found.shouted, [])
    assessed = tone.assess(*unallowed(found))
    p = assessed.probability if assessed is not None else 0.0
    kept = _merged(found.phrases if p >= tone.phrase_veto else [],
                   found.ruled if p >= tone.rule_veto else [])
    if (assessed is not None and p >= tone.threshold and not kept and not found.shouted
            and tone.knows(assessed)):
        flag = _read_flag(found, tone.explain(assessed))
        if not _inside(flag, found.allowed):
            kept.append(flag)
    return _sorted(kept + found.shouted, [])


def unallowed(found: Evidence) -> tuple[str, list[Token]]:
    """The text and words the model reads: those of an allowed phrase ("Last Chance
    Cafe", a business's own name for a thing) blanked out — the lexicon's word that
    they are fine holds for the model too. Offsets are kept."""
    if not found.allowed:
        return found.text, found.tokens
    text = list(found.text)
    for start, end in found.allowed:
        text[start:end] = " " * (end - start)
    tokens = [t for t in found.tokens
              if not any(start <= t.start and t.end <= end for start, end in found.allowed)]
    return "".join(text), tokens


def _merged(phrases: list[Flag], ruled: list[Flag]) -> list[Flag]:
    return phrases + [f for f in ruled if not _overlaps(f, phrases)]


def _read_flag(found: Evidence, reading: Reading) -> Flag:
    why, suggestion = found.lexicon.advice.get(reading.category, ("", ""))
    places = dict.fromkeys((w.start, w.end) for w in reading.words)
    return Flag(category=reading.category, start=reading.start, end=reading.end,
                words=tuple(found.text[start:end] for start, end in places),
                why=why, suggestion=suggestion)


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
