"""A business extends the built-in lexicons with its own files (docs/decisions/0031)."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchflow.guardrails import LexiconError, check
from touchflow.guardrails.lexicon import BUILT_IN, ENV, load

OWN = """\
acronyms: [DECATHLON]
allow:
  - last chance cafe
categories:
  last_word:
    phrases:
      - per my last message
  guilt:
    phrases:
      - phrase: our feelings
        suggestion: Say how glad you'd be to see them.
  urgency:
    why: Our own reason.
"""


@pytest.fixture
def own(tmp_path: Path) -> Path:
    (tmp_path / "en.yaml").write_text(OWN, encoding="utf-8")
    return tmp_path


# Without the business's phrase the model reads this sentence alone and, since the
# retrain on writers H and I (p 0.71 against a cut of 0.68), flags it as urgency
# ("my last … sofa"): what the business's file changes is the last_word flag.
def _categories(text: str, extra: tuple[Path, ...] | None = None) -> list[str]:
    return [f.category for f in check(text, "en", extra=extra)]


def test_the_business_phrases_are_added(own: Path) -> None:
    text = "Per my last message, the sofa ships on Monday."
    assert "last_word" not in _categories(text, extra=())
    (flag,) = check(text, "en", extra=(own,))
    assert (flag.category, text[flag.start:flag.end]) == ("last_word", "Per my last message")
    assert flag.why.startswith("Closing the conversation")  # the category's, kept


def test_an_entry_may_carry_its_own_suggestion(own: Path) -> None:
    (flag,) = check("Think of our feelings.", "en", extra=(own,))
    assert flag.suggestion == "Say how glad you'd be to see them."


def test_the_business_reasons_replace_the_built_in_ones(own: Path) -> None:
    (flag,) = check("Hurry up.", "en", extra=(own,))
    assert flag.why == "Our own reason."
    assert flag.suggestion.startswith("State the facts")  # not replaced: kept


def test_its_acronyms_and_allowed_phrases_are_not_flagged(own: Path) -> None:
    text = "Lunch at the Last Chance Cafe, next to DECATHLON."
    assert {f.category for f in check(text, "en", extra=())} == {"shouting", "urgency"}
    assert check(text, "en", extra=(own,)) == []


def test_the_environment_names_the_folders(own: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Per my last message, the sofa ships on Monday."
    monkeypatch.setenv(ENV, str(own))
    assert _categories(text) == ["last_word"]
    monkeypatch.delenv(ENV)
    assert "last_word" not in _categories(text)


def test_a_folder_without_the_language_changes_nothing(own: Path) -> None:
    assert load("ru", (own,)).entries == load("ru").entries


def test_an_unknown_category_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pl.yaml").write_text("categories:\n  rudeness:\n    phrases: [x]\n")
    with pytest.raises(LexiconError, match=f"{tmp_path / 'pl.yaml'}: unknown category 'rudeness'"):
        check("Dzień dobry", "pl", extra=(tmp_path,))


def test_a_bad_entry_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ru.yaml").write_text("categories:\n  fear:\n    phrases:\n      - {word: x}\n")
    with pytest.raises(LexiconError, match=f"{tmp_path / 'ru.yaml'}: ru: fear: an entry needs"):
        check("Привет", "ru", extra=(tmp_path,))


def test_broken_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("categories: [\n")
    with pytest.raises(LexiconError, match=str(tmp_path / "en.yaml")):
        check("Hello", "en", extra=(tmp_path,))


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_every_built_in_category_has_a_reason_and_a_suggestion(language: str) -> None:
    lexicon = load(language)
    assert sorted(lexicon.advice) == sorted(
        ["blame", "ignorance", "last_word", "nitpicking", "arguing", "put_in_place",
         "superiority", "urgency", "scarcity", "guilt", "fear", "shouting", "obligation"])
    assert all(why and suggestion for why, suggestion in lexicon.advice.values())
    assert (BUILT_IN / f"{language}.yaml").is_file()


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_no_built_in_entry_is_cut_short_by_a_yaml_comment(language: str) -> None:
    """A " #" in a phrase starts a YAML comment: "only # left" would read "only"."""
    text = (BUILT_IN / f"{language}.yaml").read_text(encoding="utf-8")
    phrases = [line for line in text.splitlines() if line.strip().startswith("- ")]
    assert [p for p in phrases if " #" in p] == []


def test_warming_up_passes_over_what_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The web process warms the check for the deployment's languages on a thread: a
    language the check does not read is passed over, a business lexicon that cannot be
    read is logged (and refused again, with its line, where a text is checked)."""
    from touchflow.guardrails.check import warm

    (tmp_path / "pl.yaml").write_text("categories: [oops\n", encoding="utf-8")
    monkeypatch.setenv(ENV, str(tmp_path))
    load.cache_clear()
    try:
        warm(["de", "pl"])
        assert "could not be read" in caplog.text and "'pl'" in caplog.text
        assert "'de'" not in caplog.text
        with pytest.raises(LexiconError, match="pl.yaml"):
            check("Dziękujemy.", "pl")
    finally:
        load.cache_clear()
