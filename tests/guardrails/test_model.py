"""The tone model (decision 0031, fourth round): shipped as data, read once a process,
flags what the lexicon misses, leaves polite traps alone, rebuilds to the same weights."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.tone import HERE, read_set, score
from bench.tone_train import difference
from touchflow.guardrails import CATEGORIES, LANGUAGES, check, features
from touchflow.guardrails.check import combine, evidence
from touchflow.guardrails.model import BUILT_IN, ModelError, load, read, save


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_a_model_read_once(language: str) -> None:
    model = load(language)
    assert model is not None and model is load(language)
    assert (model.language, model.categories) == (language, CATEGORIES)
    assert len(model.keys) > 10_000 and list(model.keys) == sorted(model.keys)
    assert 0.5 <= model.threshold <= 1 and model.phrase_veto <= model.rule_veto <= 1


# Written after training, never tuned on; no phrase or rule finds them.
PARAPHRASES = [
    ("en", "Frankly, most people manage to follow the manual."),
    ("ru", "Судя по царапинам, чехол не раз падал на пол."),
    ("pl", "Robimy kuchnie od trzydziestu lat, więc to my zdecydujemy."),
]


@pytest.mark.parametrize(("language", "text"), PARAPHRASES)
def test_the_model_flags_what_the_lexicon_misses(language: str, text: str) -> None:
    assert combine(evidence(text, language), None) == []
    [flag] = check(text, language)
    assert (flag.start, flag.end) == (0, len(text) - 1)  # the sentence, not its full stop
    assert flag.why and flag.suggestion and flag.words


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Thanks for waiting, your sofa is ready to collect."),
    ("ru", "Спасибо, что дождались, диван готов к выдаче."),
    ("pl", "Dziękujemy za cierpliwość, sofa czeka na odbiór."),
    ("en", "If you're in a hurry, we can deliver tomorrow."),
    ("ru", "Отвечать не обязательно, просто хотели сказать спасибо."),
])
def test_polite_traps_are_not_flagged(language: str, text: str) -> None:
    assert check(text, language) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("writer", ["writer-a", "writer-b"])
def test_the_new_writers_sets_are_flagged_as_trained(language: str, writer: str) -> None:
    # In-sample, yet not 90%: the cuts are chosen for polite phrases out of set, so a
    # bad phrase the model fits weakly stays under the threshold (79-100% here).
    result = score(read_set(HERE / "train" / writer / f"{language}.tsv"), language)
    assert result.recall >= 0.75, [p.text for p in result.missed]
    assert result.polite_flagged <= 0.10, [p.text for p, _found in result.false]


def test_a_weights_file_for_other_features_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = read(BUILT_IN / "en.npz")
    path = tmp_path / "en.npz"
    save(model, path)
    again = read(path)
    assert (again.keys.tolist(), again.threshold) == (model.keys.tolist(), model.threshold)
    with monkeypatch.context() as patched:
        patched.setattr(features, "VERSION", features.VERSION + 1)
        save(model, path)
    with pytest.raises(ModelError, match="retrain"):
        read(path)


def test_a_rebuild_differs_by_training_not_by_a_cpus_rounding() -> None:
    shipped = load("en")
    assert shipped is not None
    nudged = shipped.binary.copy()
    nudged[7] = np.nextafter(nudged[7], np.float32(10))  # another CPU's last bit
    assert difference(replace(shipped, binary=nudged), shipped) is None
    nudged[7] += 1e-3
    assert difference(replace(shipped, binary=nudged), shipped) == "weights by up to 0.001"
    assert "cuts" in difference(replace(shipped, threshold=shipped.threshold + 0.01), shipped)
    assert "buckets" in difference(replace(shipped, keys=shipped.keys[1:]), shipped)


def test_the_script_rebuilds_the_shipped_weights() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.tone_train", "--check", "--lang", "en"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert (done.returncode, done.stdout.split()[:2]) == (0, ["en:", "same"]), done.stderr


_MEMORY_PROBE = """
from touchflow.guardrails import check
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
check("Thank you for coming in.", "en")
before = rss()
for language, text in (("ru", "Вы сами виноваты."), ("pl", "To Pani wina."), ("en", "Your fault.")):
    check(text, language)
print((rss() - before) // 1024)
"""


def test_the_three_languages_dictionaries_fit_a_small_server() -> None:
    """A web or worker process that checks texts in all three languages: simplemma's
    dictionaries read in its low-memory form hold ~90 MB more, not ~650 MB (the plain
    dict of every Polish form alone is ~500 MB)."""
    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) <= 200, f"{done.stdout.strip()} MB for the ru and pl dictionaries"


_WARM_PROBE = """
import threading
import touchflow.wsgi
from simplemma.strategies.dictionaries import LOW_MEMORY_DICTIONARY_FACTORY as dictionaries
from touchflow.guardrails import model
[warming] = [t for t in threading.enumerate() if t.name == "tone-warm-up"]
warming.join(120)
print(model.load.cache_info().currsize, dictionaries._get_dictionary.cache_info().currsize)
"""


def test_the_web_process_reads_the_tone_data_when_it_starts() -> None:
    """A staff member's first reply or preview does not wait for the dictionaries:
    gunicorn's application module starts a thread that reads every language's."""
    done = subprocess.run([sys.executable, "-c", _WARM_PROBE], capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "3"]


@pytest.mark.parametrize("language", ["pl", "ru"])
def test_the_model_never_calls_a_text_shouting(language: str) -> None:
    """Capitals and marks are the lexicon's to find: the model reads lower case. An
    English reply to a Polish customer was once flagged "shouting" over "Yes"."""
    for text in ("Thank you for asking. It's here whenever you'd like to see it.",
                 "Yes, two left.", "Sure, we can hold it until Friday."):
        assert "shouting" not in {f.category for f in check(text, language)}
    (flag,) = check("Запись ЗАВТРА.", language)  # one flag: the capitals, not the sentence too
    assert (flag.category, flag.words) == ("shouting", ("ЗАВТРА",))
    # A model whose softmax leans to "shouting" names the next category instead.
    shipped = load(language)
    assert shipped is not None
    bias = shipped.category_bias.copy()
    bias[list(shipped.categories).index("shouting")] = 1e6
    leaning = replace(shipped, category_bias=bias)
    text = "Yes, two left."
    assessed = leaning.assess(text, evidence(text, language).tokens)
    assert assessed is not None and leaning.explain(assessed).category != "shouting"


@pytest.mark.parametrize(("language", "own"), [
    ("pl", "Dziękujemy za pytanie, sofa czeka na Panią."),
    ("ru", "Спасибо, что спросили: диван ждёт вас."),
])
def test_a_text_in_another_language_is_not_the_models_to_flag(language: str, own: str) -> None:
    """An English reply to a Polish or Russian customer: the model knows almost none of
    its words, so its probability says nothing and it does not flag alone."""
    model = load(language)
    assert model is not None
    english = "Yes, two left. Thank you for asking, it's here whenever you'd like to see it."
    for text, known in ((english, False), (own, True)):
        assessed = model.assess(text, evidence(text, language).tokens)
        assert assessed is not None and model.knows(assessed) is known
    assert check(english, language) == []
