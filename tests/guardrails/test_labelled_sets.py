"""The issue's targets on the labelled development set (bench/tone/): at least 90% of the
win–lose and pushy phrases flagged, at most 10% of the polite ones, in each language. A
lexicon change that loses them fails here. (The held-out set is reported in
bench/RESULTS.md, never asserted: it would become a set tuned against.)"""

from __future__ import annotations

import pytest

from bench.tone import HERE, POLITE, Phrase, read_set, score
from touchflow.guardrails import CATEGORIES, LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_development_set_meets_the_targets(language: str) -> None:
    result = score(read_set(HERE / f"{language}.tsv"), language)
    assert result.recall >= 0.90, [p.text for p in result.missed]
    assert result.polite_flagged <= 0.10, [p.text for p, _found in result.false]


# (the set's folder under bench/tone/, phrases at least, polite phrases at least)
SIZES = [("", 150, 50), ("dev", 60, 20), ("heldout", 60, 20), ("heldout2", 60, 20),
         ("heldout3", 60, 20)]


@pytest.mark.parametrize(("folder", "phrases", "polite"), SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_set_is_as_large_as_the_issue_asks(
    folder: str, phrases: int, polite: int, language: str
) -> None:
    found = read_set(HERE / folder / f"{language}.tsv")
    assert len(found) >= phrases
    assert sum(p.label == POLITE for p in found) >= polite
    assert {p.label for p in found} == {*CATEGORIES, POLITE}


def test_the_score_counts_a_miss_and_a_false_flag() -> None:
    result = score([Phrase("urgency", "Thank you."), Phrase(POLITE, "Hurry!"),
                    Phrase("fear", "You'll regret it.")], "en")
    assert (result.recall, result.polite_flagged, result.right_recall) == (0.5, 1.0, 0.5)
    assert [p.text for p in result.missed] == ["Thank you."]
