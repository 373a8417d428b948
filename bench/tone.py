"""``python -m bench.tone``: the tone check (issue 12) scored on labelled phrases.

``bench/tone/{en,ru,pl}.tsv`` is the development set the lexicons were tuned on;
``bench/tone/heldout/`` was written after tuning, scored once, and then read (the
lexicons were broadened after its misses); ``bench/tone/heldout2/`` was written after
that and never tuned against. ``bench/tone/dev/`` holds the phrases written while the
clause rules were written (``touchflow/guardrails/rules.py``) and tuned on; held-out 2 was
read (not tuned on) while they were written, so it is labelled "read"; ``heldout3/`` was
written and committed before the rules, never read against them, and scored once at
the end. For each set,
language and category: recall (share of the category's phrases flagged at all, and
flagged with their own category), precision (of the phrases flagged with a category,
the share labelled so), and the share of polite phrases flagged (false positives).
Then the time a message takes: every phrase checked ``--repeat`` times after one
warm-up pass (the lemma dictionaries loaded, their cache warm), median and p99.
"""

from __future__ import annotations

import argparse
import datetime
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from touchflow.flows.checks import blanked
from touchflow.guardrails import CATEGORIES, LANGUAGES, check

HERE = Path(__file__).with_name("tone")
# "held-out 1" was scored once, then the lexicons were broadened after reading its misses:
# it is no longer unseen. "held-out 2" was written after that change.
SETS = {
    "development": HERE,
    "rules dev": HERE / "dev",
    "held-out 1 (seen)": HERE / "heldout",
    "held-out 2 (read)": HERE / "heldout2",
    "held-out 3": HERE / "heldout3",
    # Written by two other writers for training the model (bench/tone_train.py): scored
    # here in-sample; their out-of-writer scores are the training script's.
    "writer A (trained on)": HERE / "train" / "writer-a",
    "writer B (trained on)": HERE / "train" / "writer-b",
    "writer C (trained on)": HERE / "train" / "writer-c",
    "writer D (trained on)": HERE / "train" / "writer-d",
    "writer E (trained on)": HERE / "train" / "writer-e",
    "writer F (trained on)": HERE / "train" / "writer-f",
    "writer G (trained on)": HERE / "train" / "writer-g",
    "writer H (trained on)": HERE / "train" / "writer-h",
    "writer I (trained on)": HERE / "train" / "writer-i",
    "writer J (trained on)": HERE / "train" / "writer-j",
    "writer K (trained on)": HERE / "train" / "writer-k",
    "chain texts (trained on)": HERE / "train" / "chains",
}
POLITE = "polite"
# The targets: flagged share of win–lose and pushy phrases, of polite ones.
TARGET_RECALL = 0.90
TARGET_POLITE = 0.10


@dataclass(frozen=True)
class Phrase:
    label: str
    text: str


@dataclass
class Score:
    """What the check made of one language's phrases."""

    language: str
    total: Counter[str] = field(default_factory=Counter)  # phrases per label
    flagged: Counter[str] = field(default_factory=Counter)  # per label, with any flag
    right: Counter[str] = field(default_factory=Counter)  # per label, with its own category
    claimed: Counter[str] = field(default_factory=Counter)  # phrases flagged with a category
    missed: list[Phrase] = field(default_factory=list)
    false: list[tuple[Phrase, tuple[str, ...]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of the win–lose and pushy phrases flagged with any flag."""
        bad = [c for c in self.total if c != POLITE]
        return _share(sum(self.flagged[c] for c in bad), sum(self.total[c] for c in bad))

    @property
    def right_recall(self) -> float:
        bad = [c for c in self.total if c != POLITE]
        return _share(sum(self.right[c] for c in bad), sum(self.total[c] for c in bad))

    @property
    def polite_flagged(self) -> float:
        return _share(self.flagged[POLITE], self.total[POLITE])

    def precision(self, category: str) -> float:
        return _share(self.right[category], self.claimed[category])

    @property
    def meets_targets(self) -> bool:
        """Both targets; a set of polite phrases only (chain texts) is held to the second."""
        recall_met = self.recall >= TARGET_RECALL or math.isnan(self.recall)
        return recall_met and self.polite_flagged <= TARGET_POLITE


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def read_set(path: Path) -> list[Phrase]:
    """The phrases of one file: ``label<TAB>text`` a line, ``#`` comments; template
    tags blanked, as the chain check reads a step's text (``flows.checks.blanked``)."""
    phrases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or (label not in CATEGORIES and label != POLITE):
            raise ValueError(f"{path}:{number}: expected 'label<TAB>text', label one of "
                             f"{', '.join((*CATEGORIES, POLITE))}")
        phrases.append(Phrase(label, blanked(text)))
    return phrases


def score(phrases: list[Phrase], language: str) -> Score:
    result = Score(language)
    for phrase in phrases:
        found = tuple(dict.fromkeys(flag.category for flag in check(phrase.text, language)))
        result.total[phrase.label] += 1
        result.claimed.update(found)
        if found:
            result.flagged[phrase.label] += 1
        if phrase.label in found:
            result.right[phrase.label] += 1
        if phrase.label == POLITE and found:
            result.false.append((phrase, found))
        elif phrase.label != POLITE and not found:
            result.missed.append(phrase)
    return result


def timing(texts: list[str], language: str, repeat: int) -> list[float]:
    """Seconds per message, each of ``texts`` checked ``repeat`` times after a warm-up."""
    for text in texts:
        check(text, language)
    times = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter()
            check(text, language)
            times.append(time.perf_counter() - started)
    return times


def first_load(language: str) -> float:
    """Seconds the first check in a process takes (the lemma dictionary and the
    model's weights read)."""
    started = time.perf_counter()
    check("hello", language)
    return time.perf_counter() - started


def rss_mb() -> float:
    """This process's resident memory, MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.0f}%"


def report(scores: dict[str, dict[str, Score]]) -> str:
    lines = ["| set | lang | phrases (bad / polite) | bad flagged | with its category | "
             "polite flagged | targets (≥ 90% / ≤ 10%) |", "|---|---|---|---|---|---|---|"]
    for name, by_language in scores.items():
        for language, s in by_language.items():
            bad = sum(n for c, n in s.total.items() if c != POLITE)
            lines.append(
                f"| {name} | {language} | {bad} / {s.total[POLITE]} | {_pct(s.recall)} | "
                f"{_pct(s.right_recall)} | {_pct(s.polite_flagged)} | "
                f"{'met' if s.meets_targets else '**missed**'} |")
    return "\n".join(lines)


def category_report(scores: dict[str, Score]) -> str:
    """Per category: recall any flag / own category, and precision, per language."""
    languages = list(scores)
    head = "| category | " + " | ".join(f"{lang} recall (any / own) | {lang} precision"
                                        for lang in languages) + " |"
    lines = [head, "|---|" + "---|---|" * len(languages)]
    for category in CATEGORIES:
        cells = []
        for language in languages:
            s = scores[language]
            cells.append(f"{_pct(_share(s.flagged[category], s.total[category]))} / "
                         f"{_pct(_share(s.right[category], s.total[category]))} "
                         f"(n={s.total[category]})")
            cells.append(_pct(s.precision(category)))
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mistakes(scores: dict[str, Score]) -> str:
    lines = []
    for language, s in scores.items():
        lines += [f"- {language} missed [{p.label}]: {p.text}" for p in s.missed]
        lines += [f"- {language} polite flagged {', '.join(found)}: {p.text}"
                  for p, found in s.false]
    return "\n".join(lines) or "(none)"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tone", description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="timed passes over each set")
    parser.add_argument("--mistakes", action="store_true", help="list every miss")
    parser.add_argument("--blind", nargs="?", const="blind", metavar="FOLDER",
                        help="score only a blind set (bench/tone/blind/, or another "
                             "folder of bench/tone/, e.g. blind2) and print only its "
                             "totals (never its phrases: see its README)")
    args = parser.parse_args()
    if args.blind:
        blind = {language: score(read_set(HERE / args.blind / f"{language}.tsv"), language)
                 for language in LANGUAGES}
        print(report({args.blind: blind}) + "\n\n" + category_report(blind))
        return
    print(f"# tone check {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}\n")
    memory = {"(nothing loaded)": rss_mb()}
    loads = {}
    for language in LANGUAGES:
        loads[language] = first_load(language)
        memory[f"after {language}"] = rss_mb()
    scores = {name: {language: score(read_set(folder / f"{language}.tsv"), language)
                     for language in LANGUAGES}
              for name, folder in SETS.items()}
    print(report(scores) + "\n")
    for name, by_language in scores.items():
        print(f"## {name} set, per category\n\n" + category_report(by_language) + "\n")
        if args.mistakes:
            print(mistakes(by_language) + "\n")
    print("Resident memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in memory.items()) + "\n")
    print("| lang | first check (dictionary load) | median a message | p99 | max | messages |")
    print("|---|---|---|---|---|---|")
    for language in LANGUAGES:
        texts = [p.text for folder in SETS.values()
                 for p in read_set(folder / f"{language}.tsv")]
        times = sorted(timing(texts, language, args.repeat))
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"| {language} | {loads[language]:.2f} s | {1e3 * statistics.median(times):.3f} ms"
              f" | {1e3 * p99:.3f} ms | {1e3 * times[-1]:.3f} ms | {len(times)} |")


if __name__ == "__main__":
    main()
