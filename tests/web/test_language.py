"""Every UI string is translated, and each staff member sees the language they picked."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from touchflow.stores.models import Staff, Store

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "touchflow"
LANGUAGES = ("ru", "pl")


def _catalogue(path: Path) -> list[dict[str, object]]:
    """The entries of a .po file: msgctxt, msgid, msgstr (list for plurals), flags."""
    entries: list[dict[str, object]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict[str, object] = {"flags": set(), "msgstr": []}
        current = ""
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] = {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif match := re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$",
                                   line):
                current = match.group(1)
                value = ast.literal_eval(match.group(2))
                if current.startswith("msgstr"):
                    entry["msgstr"].append(value)  # type: ignore[union-attr]
                else:
                    entry[current] = value
            elif line.startswith('"') and current:
                value = ast.literal_eval(line)
                if current.startswith("msgstr"):
                    entry["msgstr"][-1] += value  # type: ignore[index]
                else:
                    entry[current] = str(entry[current]) + value
        if "msgid" in entry and entry["msgid"] != "":
            entries.append(entry)
    return entries


def _key(entry: dict[str, object]) -> tuple[str, str]:
    return str(entry.get("msgctxt", "")), str(entry["msgid"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_no_untranslated_or_fuzzy_entries(language: str) -> None:
    po = PACKAGE / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = _catalogue(po)
    assert len(entries) > 150
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]  # type: ignore[operator]
    untranslated = [e["msgid"] for e in entries
                    if not e["msgstr"] or not all(e["msgstr"])]  # type: ignore[attr-defined]
    assert fuzzy == []
    assert untranslated == []
    header = po.read_text(encoding="utf-8").split("\n\n")[0]
    assert "#, fuzzy" not in header
    # A counted message has every plural form of the language, and counts one number:
    # "SMS: 164 characters, 2 segments" as one entry chose the form by the segments
    # and printed "164 znaków".
    match = re.search(r"nplurals=(\d+)", header)
    assert match is not None
    plurals = [e for e in entries if "msgid_plural" in e]
    assert len(plurals) >= 8
    for entry in plurals:
        assert len(entry["msgstr"]) == int(match[1]), entry["msgid"]  # type: ignore[arg-type]
        assert len(re.findall(r"%\(\w+\)", str(entry["msgid"]))) <= 1, entry["msgid"]
    # msgfmt checks that every translation keeps the placeholders of its msgid.
    subprocess.run(["msgfmt", "--check", "-o", os.devnull, str(po)], check=True)


def test_catalogues_hold_every_string_of_the_source(tmp_path: Path) -> None:
    """makemessages on a copy of the package finds no msgid the catalogues lack.

    Run ``cd touchflow && ../.venv/bin/django-admin makemessages -l ru -l pl
    --settings=touchflow.settings`` and translate what it adds when this fails.
    """
    copy = tmp_path / "touchflow"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "*.mo"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "touchflow.settings"}
    env.pop("TOUCHFLOW_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "ru", "-l", "pl", "-v", "0"],
        cwd=copy, env=env, check=True,
    )
    for language in LANGUAGES:
        fresh = {_key(e) for e in _catalogue(copy / "locale" / language / "LC_MESSAGES"
                                             / "django.po")}
        ours = {_key(e) for e in _catalogue(PACKAGE / "locale" / language / "LC_MESSAGES"
                                            / "django.po")
                if "fuzzy" not in e["flags"]}  # type: ignore[operator]
        assert sorted(fresh - ours) == [], f"strings missing from the {language} catalogue"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", ["Купил", "Не купил", "Почему нет?", "Просто смотрит", "Ошибка продавца",
                "Клиенты", "Сохранить", "Отказался", "Не спрашивал", 'lang="ru"']),
        ("pl", ["Kupił", "Nie kupił", "Dlaczego nie?", "Tylko ogląda", "Błąd sprzedawcy",
                "Klienci", "Zapisz", "Odmówił", "Nie pytałem", 'lang="pl"']),
    ],
)
def test_counter_renders_in_the_staff_members_language(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
    language: str, words: list[str],
) -> None:
    staff = make_staff(stores=[store], language=language)
    html = login_client(staff).get("/").content.decode()
    for word in words:
        assert word in html
    for english in (">Bought<", "Why not?", ">Customers<", ">Save<"):
        assert english not in html


def test_errors_and_confirmations_speak_the_staff_members_language(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
) -> None:
    client = login_client(make_staff(stores=[store], language="ru"))
    response = client.post("/", {"store": store.pk, "outcome": "bought", "contact": "12",
                                 "contact_capture": "taken"})
    assert "Это не похоже на номер телефона." in response.content.decode()
    client.post("/", {"store": store.pk, "outcome": "bought", "contact_capture": "refused"})
    assert "Сохранено — Тип 2: купил, от контактов отказался." in client.get("/").content.decode()


def test_profile_saves_the_language(
    login_client: Callable[[Staff], Client], salesperson: Staff
) -> None:
    client = login_client(salesperson)
    html = client.get("/profile/").content.decode()
    assert '<option value="en" lang="en" selected>English</option>' in html
    response = client.post("/profile/", {"language": "pl"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    salesperson.refresh_from_db()
    assert salesperson.language == "pl"
    html = client.get("/profile/").content.decode()
    assert "Zapisano język." in html
    assert '<option value="pl" lang="pl" selected>Polski</option>' in html
    assert ">Profil<" in html


def test_profile_refuses_an_unknown_language(
    login_client: Callable[[Staff], Client], salesperson: Staff
) -> None:
    response = login_client(salesperson).post("/profile/", {"language": "de"})
    assert response.status_code == 422
    assert "Choose one of the offered languages." in response.content.decode()
    salesperson.refresh_from_db()
    assert salesperson.language == "en"


def test_login_page_follows_the_browser_language(db: None) -> None:
    html = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Logowanie" in html
    assert "Nazwa użytkownika" in html


def test_throttle_message_is_translated_with_plurals(
    make_staff: Callable[..., Staff], store: Store
) -> None:
    make_staff(stores=[store], username="olga")
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "olga", "password": "x"}, HTTP_ACCEPT_LANGUAGE="ru")
    response = client.post("/login/", {"username": "olga", "password": "x"},
                           HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 429
    assert "Попробуйте снова через 15 минут." in response.content.decode()


@pytest.mark.parametrize(
    ("language", "units", "encoding", "segments", "expected"),
    [
        ("pl", 164, "GSM-7", 2, "SMS: 164 znaki, GSM-7, 2 segmenty"),
        ("pl", 127, "UCS-2", 5, "SMS: 127 znaków, UCS-2, 5 segmentów"),
        ("pl", 1, "GSM-7", 1, "SMS: 1 znak, GSM-7, 1 segment"),
        ("ru", 127, "UCS-2", 1, "SMS: 127 символов, UCS-2, 1 сегмент"),
        ("ru", 164, "GSM-7", 2, "SMS: 164 символа, GSM-7, 2 сегмента"),
        ("ru", 21, "GSM-7", 1, "SMS: 21 символ, GSM-7, 1 сегмент"),
        ("en", 1, "GSM-7", 1, "SMS: 1 character, GSM-7, 1 segment"),
        ("en", 161, "GSM-7", 2, "SMS: 161 characters, GSM-7, 2 segments"),
    ],
)
def test_sms_size_counts_characters_and_segments_each_with_its_own_plural(
    language: str, units: int, encoding: str, segments: int, expected: str
) -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    sms = {"units": units, "encoding": encoding, "segments": segments}
    with translation.override(language):
        html = render_to_string("web/_sms_size.html", {"sms": sms})
    assert f">{expected}</span>" in html


ERROR_PAGES = {
    "ru": {"404": "Страница не найдена", "403": "Нет доступа", "500": "Что-то пошло не так",
           "400": "Неверный запрос", "csrf": "Форма устарела",
           "admin": "Администрирование Touchflow"},
    "pl": {"404": "Nie znaleziono strony", "403": "Brak dostępu", "500": "Coś poszło nie tak",
           "400": "Nieprawidłowe żądanie", "csrf": "Formularz wygasł",
           "admin": "Administracja Touchflow"},
    "en": {"404": "Page not found", "403": "Not allowed", "500": "Something went wrong",
           "400": "Bad request", "csrf": "The form has expired",
           "admin": "Touchflow administration"},
}


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_error_pages_and_the_admin_title_speak_the_language(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
    language: str,
) -> None:
    from django.test import RequestFactory
    from django.utils import translation
    from django.views import defaults

    words = ERROR_PAGES[language]
    pages = {
        "404": Client().get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language),
        "403": login_client(make_staff(stores=[store], language=language)).get("/chains/"),
        "csrf": Client(enforce_csrf_checks=True).post(
            "/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE=language
        ),
    }
    request = RequestFactory().get("/")
    with translation.override(language):
        pages["500"] = defaults.server_error(request)
        pages["400"] = defaults.bad_request(request, Exception("unreadable"))
    for page, status in (("404", 404), ("403", 403), ("csrf", 403), ("500", 500), ("400", 400)):
        html = pages[page].content.decode()
        assert pages[page].status_code == status
        assert f"<h1>{words[page]}</h1>" in html, page
        assert "/static/web/touchflow.css" in html, page  # styled like every other page
        assert f'lang="{language}"' in html, page
    manager = make_staff(role="manager", stores=[store], language=language)
    html = login_client(manager).get("/admin/").content.decode()
    assert words["admin"] in html
    assert "Django" not in html
