"""The words that offer a way out, per language: one table for every channel. No database."""

from __future__ import annotations

import pytest

from touchflow.core.stop_texts import link_footer, sms_stop_line, stop_label


@pytest.mark.parametrize(("language", "label", "line", "footer"), [
    ("en", "Stop messages", "Reply STOP to opt out.", "Unsubscribe: https://x/u/1"),
    ("ru", "Отписаться", "Чтобы отписаться, ответьте СТОП.", "Отписаться: https://x/u/1"),
    ("pl", "Wypisz mnie", "Aby zrezygnować, odpisz STOP.", "Wypisz się: https://x/u/1"),
    ("de", "Stop messages", "Reply STOP to opt out.", "Unsubscribe: https://x/u/1"),
])
def test_each_language_has_its_words_and_any_other_gets_english(
    language: str, label: str, line: str, footer: str
) -> None:
    assert stop_label(language) == label
    assert sms_stop_line(language) == line
    assert link_footer(language, "https://x/u/1") == footer
