"""The tone check (issue 12): each category in each language, with the words it found
and where; inflected forms; polite texts left alone; shouting."""

from __future__ import annotations

import pytest

from touchflow.guardrails import CATEGORIES, LANGUAGES, Flag, LexiconError, check
from touchflow.guardrails.check import combine, evidence

# (language, text, category, the stretch found, the words matched)
FOUND = [
    ("en", "It's your own fault the sofa got stained.", "blame", "your own fault",
     ("your", "own", "fault")),
    ("en", "Obviously you don't know how it works.", "ignorance", "Obviously you don't",
     ("Obviously", "you", "don't")),
    ("en", "Our decision is final.", "last_word", "decision is final",
     ("decision", "is", "final")),
    ("en", "Just to correct you: it was Tuesday.", "nitpicking", "to correct you",
     ("to", "correct", "you")),
    ("en", "You are wrong about the price.", "arguing", "You are wrong", ("You", "are", "wrong")),
    ("en", "Watch your tone, please.", "put_in_place", "Watch your tone",
     ("Watch", "your", "tone")),
    ("en", "We know better than you.", "superiority", "We know better", ("We", "know", "better")),
    ("en", "Hurry, the sale is on.", "urgency", "Hurry", ("Hurry",)),
    ("en", "Only 3 left in stock.", "scarcity", "Only 3 left", ("Only", "3", "left")),
    ("en", "We went out of our way for you.", "guilt", "We went out of our way",
     ("We", "went", "out", "of", "our", "way")),
    ("en", "You'll regret skipping the service.", "fear", "You'll regret", ("You'll", "regret")),
    ("en", "Come in, it's IMPORTANT.", "shouting", "IMPORTANT", ("IMPORTANT",)),
    ("en", "You really must confirm by Friday.", "obligation", "You really must", ("You", "must")),
    ("ru", "Вы сами виноваты в поломке.", "blame", "Вы сами виноваты", ("Вы", "сами", "виноваты")),
    ("ru", "Вы, видимо, не знаете, как это работает.", "ignorance", "видимо, не знаете",
     ("видимо", "не", "знаете")),
    ("ru", "Наше решение окончательное.", "last_word", "решение окончательное",
     ("решение", "окончательное")),
    ("ru", "Поправлю вас: это было во вторник.", "nitpicking", "Поправлю вас",
     ("Поправлю", "вас")),
    ("ru", "Вы ошибаетесь насчёт цены.", "arguing", "Вы ошибаетесь", ("Вы", "ошибаетесь")),
    ("ru", "Успокойтесь и перечитайте договор.", "put_in_place", "Успокойтесь",
     ("Успокойтесь",)),
    ("ru", "Мы лучше вас знаем, что вам нужно.", "superiority", "Мы лучше вас знаем",
     ("Мы", "лучше", "знаем")),
    ("ru", "Спешите, акция до пятницы.", "urgency", "Спешите", ("Спешите",)),
    ("ru", "Осталось всего 3 дивана.", "scarcity", "Осталось всего 3", ("Осталось", "3")),
    ("ru", "Вы нас подвели.", "guilt", "Вы нас подвели", ("Вы", "нас", "подвели")),
    ("ru", "Вы пожалеете, если пропустите.", "fear", "пожалеете", ("пожалеете",)),
    ("ru", "Запись ЗАВТРА.", "shouting", "ЗАВТРА", ("ЗАВТРА",)),
    ("ru", "Вы должны подтвердить запись.", "obligation", "Вы должны", ("Вы", "должны")),
    ("pl", "To Pana wina, że sofa pękła.", "blame", "Pana wina", ("Pana", "wina")),
    ("pl", "Widocznie nie wie Pan, jak to działa.", "ignorance", "Widocznie nie wie",
     ("Widocznie", "nie", "wie")),
    ("pl", "Decyzja jest ostateczna.", "last_word", "Decyzja jest ostateczna",
     ("Decyzja", "jest", "ostateczna")),
    ("pl", "Poprawię Pana: to był wtorek.", "nitpicking", "Poprawię Pana", ("Poprawię", "Pana")),
    ("pl", "Myli się Pani co do ceny.", "arguing", "Myli się", ("Myli", "się")),
    ("pl", "Proszę się uspokoić.", "put_in_place", "Proszę się uspokoić",
     ("Proszę", "się", "uspokoić")),
    ("pl", "Wiemy lepiej niż Pan.", "superiority", "Wiemy lepiej", ("Wiemy", "lepiej")),
    ("pl", "Pospiesz się, promocja trwa.", "urgency", "Pospiesz", ("Pospiesz",)),
    ("pl", "Zostały tylko 3 sofy.", "scarcity", "Zostały tylko 3", ("Zostały", "3")),
    ("pl", "Zawiodła nas Pani.", "guilt", "Zawiodła nas", ("Zawiodła", "nas")),
    ("pl", "Pożałuje Pan, jeśli pominie przegląd.", "fear", "Pożałuje", ("Pożałuje",)),
    ("pl", "Wizyta JUTRO.", "shouting", "JUTRO", ("JUTRO",)),
    ("pl", "Musi Pan potwierdzić wizytę.", "obligation", "Musi Pan", ("Musi", "Pan")),
]


def _of(flags: list[Flag], category: str) -> list[Flag]:
    return [f for f in flags if f.category == category]


@pytest.mark.parametrize(("language", "text", "category", "stretch", "words"), FOUND)
def test_each_category_is_found_with_its_words_and_place(
    language: str, text: str, category: str, stretch: str, words: tuple[str, ...]
) -> None:
    if (language, text) in MODEL_VETOED:
        (flag,) = _of(combine(evidence(text, language), None), category)
        assert (text[flag.start:flag.end], flag.words) == (stretch, words)
        assert _of(check(text, language), category) == []
        return
    (flag,) = _of(check(text, language), category)
    assert (text[flag.start:flag.end], flag.words) == (stretch, words)


# Found by the lexicon, dropped by the model (its probability below the phrase veto;
# decision 0031, fifth and sixth rounds): the polite sets say "акция до пятницы" as an
# honest end date (p 0.15 against a Russian veto of 0.45), and "по вашей вине" reads
# 0.43 since the retrain on writers H and I. Known misses, asserted as they are, so a
# retrain that changes them is noticed.
MODEL_VETOED = {("ru", "Спешите, акция до пятницы."), ("ru", "Поломка произошла по вашей вине.")}


def test_every_category_in_every_language_is_covered_above() -> None:
    assert {(lang, cat) for lang, _t, cat, _s, _w in FOUND} == {
        (lang, cat) for lang in LANGUAGES for cat in CATEGORIES
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_why_and_suggestion_are_in_the_texts_language(language: str) -> None:
    texts = [t for lang, t, *_ in FOUND if lang == language]
    script = {"en": "abcdefghijklmnopqrstuvwxyz", "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
              "pl": "ąćęłńóśźż"}[language]
    for text in texts:
        for flag in check(text, language):
            assert flag.why and flag.suggestion
            assert any(c in script for c in (flag.why + flag.suggestion).lower()), flag


@pytest.mark.parametrize(
    ("language", "text", "stretch"),
    [
        ("ru", "Ты сам виноват, что не прочитал.", "Ты сам виноват"),
        ("ru", "Она сама виновата.", "сама виновата"),
        ("ru", "Поломка произошла по вашей вине.", "по вашей вине"),
        ("pl", "To stało się z Pana winy.", "z Pana winy"),
        ("pl", "Sama sobie Pani jest winna.", "Sama sobie Pani jest winna"),
        ("en", "You were warned about this.", "You were warned"),
        ("en", "We warned you twice.", "We warned you"),
    ],
)
def test_inflected_forms_match_one_entry(language: str, text: str, stretch: str) -> None:
    (flag,) = _of(combine(evidence(text, language), None), "blame")  # the lexicon's doing
    assert text[flag.start:flag.end] == stretch
    assert _of(check(text, language), "blame") == ([] if (language, text) in MODEL_VETOED
                                                   else [flag])


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "Вы должны подтвердить запись."),
        ("ru", "Ты должен подтвердить запись."),
        ("ru", "Вы должна подтвердить запись."),
        ("pl", "Musisz potwierdzić wizytę."),
        ("pl", "Musicie potwierdzić wizytę."),
        ("pl", "Pani musi potwierdzić wizytę."),
    ],
)
def test_obligation_in_any_person_addressed_to_the_customer(language: str, text: str) -> None:
    assert [f.category for f in check(text, language)] == ["obligation"]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "You can reply STOP any time to unsubscribe."),
        ("en", "Only if you want: we can remind you before the next check-up."),
        ("en", "Thank you for your purchase! See you soon!"),
        ("en", "Free delivery for orders over 500 PLN, or 120 USD. Reply OK to confirm."),
        ("en", "Our spring offer runs until 30 June."),
        ("en", "No rush at all, take your time."),
        ("en", "You don't have to reply."),
        ("en", "If you're in a hurry, we can deliver tomorrow."),
        ("en", "We must apologise: that was our fault."),
        ("en", "Model RTX4090 is back. Reply YES or NO."),
        ("ru", "В любой момент можно ответить СТОП, чтобы отписаться."),
        ("ru", "Только если хотите: можем напомнить об осмотре."),
        ("ru", "Акция действует до 30 июня. Никакой спешки!"),
        ("ru", "Отвечать не обязательно, просто хотели сказать спасибо."),
        ("ru", "Если вы торопитесь, доставим завтра. Цена 5 990 руб. с НДС."),
        ("ru", "Мы обязательно перезвоним вам завтра."),
        ("pl", "W każdej chwili może Pani odpisać STOP."),
        ("pl", "Tylko jeśli Pan chce: przypomnimy o przeglądzie."),
        ("pl", "Oferta trwa do 30 czerwca. Bez pośpiechu!"),
        ("pl", "Nie musi Pani odpowiadać. Cena 4 299 PLN z VAT, płatność BLIK."),
        ("pl", "Jeśli się Panu spieszy, dowieziemy jutro."),
        ("pl", "Nie wie Pani, co wybrać? Chętnie pomożemy."),
    ],
)
def test_polite_texts_are_left_alone(language: str, text: str) -> None:
    if (language, text) in MODEL_FALSE_ALARMS:
        assert combine(evidence(text, language), None) == []
        assert [f.category for f in check(text, language)] == [MODEL_FALSE_ALARMS[language, text]]
        return
    assert check(text, language) == []


# Polite texts the model flags (decision 0031, fourth round: short texts whose words are
# those of an order, "you … have to"; out of set about 1 polite phrase in 10 is flagged).
# Asserted as they are, so a retrained model that stops flagging them is noticed.
MODEL_FALSE_ALARMS = {
    ("en", "You don't have to reply."): "fear",  # left alone by the sixth round's first model
    ("ru", "Мы обязательно перезвоним вам завтра."): "guilt",
}


def test_capitals_and_marks_are_shouting_acronyms_and_one_mark_are_not() -> None:
    text = "Dear customer!! Your SMS code is OK. BUY NOW, it's a DEAL!!! Really?!?"
    shouted = [text[f.start:f.end] for f in _of(check(text, "en"), "shouting")]
    assert shouted == ["!!", "BUY NOW", "DEAL", "!!!", "?!?"]


def test_two_capital_letters_shout_only_beside_another_shouted_word() -> None:
    assert _of(check("Is it OK? We're TV experts.", "en"), "shouting") == []
    assert [f.words for f in _of(check("НЕ ЖДИТЕ.", "ru"), "shouting")] == [("НЕ ЖДИТЕ",)]


def test_a_contraction_is_one_word_found() -> None:
    text = "Don't miss it."
    (flag,) = check(text, "en")
    assert (flag.category, flag.words, text[flag.start:flag.end]) == (
        "urgency", ("Don't", "miss"), "Don't miss")


@pytest.mark.parametrize(
    ("language", "text", "stretch"),
    [
        ("en", "Only three left!", "Only three left"),
        ("ru", "Осталось две штуки.", "Осталось две штуки"),
        ("pl", "Zostało pięć sztuk.", "Zostało pięć sztuk"),
    ],
)
def test_a_number_word_is_a_number(language: str, text: str, stretch: str) -> None:
    (flag,) = check(text, language)
    assert (flag.category, text[flag.start:flag.end]) == ("scarcity", stretch)


@pytest.mark.parametrize(
    ("language", "text", "stretch"),
    [
        ("en", 'It was Tuesday, not "Monday".', 'not "'),
        ("ru", "Это кресло, а не «стул».", "а не «"),
        ("pl", "To fotel, a nie „krzesło”.", "a nie „"),
    ],
)
def test_a_quoted_word_set_against_another_is_nitpicking(
    language: str, text: str, stretch: str
) -> None:
    (flag,) = check(text, language)
    assert (flag.category, text[flag.start:flag.end]) == ("nitpicking", stretch)


def test_a_negation_inside_a_phrase_stops_it() -> None:
    assert check("You do not have to pay anything.", "en") == []
    assert _of(check("You have to pay now.", "en"), "obligation")


def test_a_phrase_never_spans_two_sentences() -> None:
    assert _of(check("Thank you. Must we call back?", "en"), "obligation") == []
    assert _of(check("Thank you, you must call back.", "en"), "obligation")


def test_one_flag_per_category_and_stretch() -> None:
    flags = check("It's your own fault, your own fault.", "en")
    assert [(f.category, f.start) for f in flags] == [("blame", 5), ("blame", 21)]


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(LexiconError, match="unknown language 'de'; expected one of: en, ru, pl"):
        check("Hallo", "de")


def test_an_empty_text_has_no_flags() -> None:
    assert [check("", lang) for lang in LANGUAGES] == [[], [], []]


@pytest.mark.parametrize(("language", "text"), [
    ("en", "After a peel, use SPF 30 or higher."),  # a short word no dictionary knows
    ("en", "Your RMA number is RMA-20931."),
    ("pl", "Kabel HDMI jest w zestawie."),
    ("ru", "Следующая замена ремня ГРМ через 90 000 км."),
    ("en", "Use the code SPRING at checkout."),  # a code to type
    ("pl", "Podaj kod rabatowy ZIMA przy kasie."),
    ("ru", "Промокод ЛЕТО действует до конца месяца."),
    ("pl", "Napisz „MSG”, a przełączymy kanał."),  # a word in quotation marks
])
def test_acronyms_and_codes_in_capitals_are_not_shouting(language: str, text: str) -> None:
    assert _of(check(text, language), "shouting") == []


@pytest.mark.parametrize(("language", "text", "words"), [
    ("en", "Come in NOW.", ("NOW",)),  # short, but a word of the language
    ("pl", "Tylko DZIŚ.", ("DZIŚ",)),  # not in the dictionary, but in the lexicon
    ("pl", "Promocja NATYCHMIAST.", ("NATYCHMIAST",)),  # long: a word whatever it is
    ("en", "Use the code NOW, it ends TODAY.", ("TODAY",)),
])
def test_short_words_of_the_language_still_shout(language: str, text: str,
                                                 words: tuple[str, ...]) -> None:
    assert tuple(w for f in _of(check(text, language), "shouting") for w in f.words) == words
