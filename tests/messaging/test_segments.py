"""SMS length and segments as GSM 03.38 counts them: 160/153 septets, 70/67 UCS-2 units."""

from __future__ import annotations

import pytest

from touchflow.messaging.segments import GSM7, UCS2, SmsSize, is_gsm7, measure, parts


def test_empty_text_is_no_message() -> None:
    assert measure("") == SmsSize(GSM7, 0, 0, 0, 160)
    assert parts("") == []


def test_plain_latin_up_to_160_septets_is_one_message() -> None:
    assert measure("a" * 160) == SmsSize(GSM7, 160, 160, 1, 160)
    assert parts("a" * 160) == ["a" * 160]


def test_161_septets_become_two_parts_of_153() -> None:
    assert measure("a" * 161) == SmsSize(GSM7, 161, 161, 2, 153)
    assert [len(p) for p in parts("a" * 161)] == [153, 8]


def test_exactly_two_full_parts_and_one_more_septet() -> None:
    assert measure("a" * 306).segments == 2
    assert measure("a" * 307).segments == 3
    assert [len(p) for p in parts("a" * 307)] == [153, 153, 1]


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert is_gsm7(char)
    assert measure(char) == SmsSize(GSM7, 1, 2, 1, 160)
    assert measure("a" * 158 + char).segments == 1  # 160 septets
    assert measure("a" * 159 + char) == SmsSize(GSM7, 160, 161, 2, 153)


def test_an_escape_pair_is_never_cut_across_parts() -> None:
    # 152 septets, then "€" (2): it does not fit part one's last septet and moves on.
    text = "a" * 152 + "€" + "b" * 10
    assert [p[-1] for p in parts(text)] == ["a", "b"]
    assert [len(p) for p in parts(text)] == [152, 11]
    assert measure(text) == SmsSize(GSM7, 163, 164, 2, 153)


def test_the_whole_default_alphabet_is_gsm7() -> None:
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r"
    assert is_gsm7(text)
    assert measure(text).units == len(text)


@pytest.mark.parametrize("char", list("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"))
def test_polish_diacritics_are_outside_gsm7(char: str) -> None:
    # ó and Ó too: the default alphabet has ò and Ö, not ó.
    assert not is_gsm7(char)


def test_one_polish_letter_turns_the_whole_message_into_ucs2() -> None:
    text = "Dziękujemy za wizytę"
    assert measure(text) == SmsSize(UCS2, 20, 20, 1, 70)
    assert measure("Dzien dobry") == SmsSize(GSM7, 11, 11, 1, 160)


def test_cyrillic_70_units_fit_one_message_71_need_two_parts_of_67() -> None:
    assert measure("ж" * 70) == SmsSize(UCS2, 70, 70, 1, 70)
    assert measure("ж" * 71) == SmsSize(UCS2, 71, 71, 2, 67)
    assert [len(p) for p in parts("ж" * 71)] == [67, 4]
    assert measure("Спасибо за визит!").encoding == UCS2


def test_ucs2_boundaries_of_concatenated_parts() -> None:
    assert measure("ж" * 134).segments == 2
    assert measure("ж" * 135).segments == 3


def test_emoji_is_two_utf16_units() -> None:
    assert measure("😀") == SmsSize(UCS2, 1, 2, 1, 70)
    assert measure("😀" * 35) == SmsSize(UCS2, 35, 70, 1, 70)
    assert measure("😀" * 35 + "a") == SmsSize(UCS2, 36, 71, 2, 67)


def test_a_surrogate_pair_is_never_cut_across_parts() -> None:
    text = "ж" * 66 + "😀" + "ж" * 5  # 66 units, then a pair that would need units 67-68
    assert parts(text) == ["ж" * 66, "😀" + "ж" * 5]
    assert measure(text).segments == 2


def test_accented_latin_in_the_alphabet_stays_gsm7_but_others_do_not() -> None:
    assert measure("Café à Zürich").encoding == GSM7
    assert measure("Crème brûlée").encoding == UCS2  # û is not in the alphabet
    assert measure("“quoted”").encoding == UCS2  # curly quotes are not either
