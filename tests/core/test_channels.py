"""core.channels: the channel names and what each one needs. No database."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import translation

from touchflow.core import channels
from touchflow.customers.models import ContactKind
from touchflow.messaging.providers import MODULES, provider_class


def test_the_five_channels_in_the_order_the_product_lists_them() -> None:
    assert channels.NAMES == ("telegram", "viber", "whatsapp", "sms", "email")
    assert tuple(c.name for c in channels.ALL) == channels.NAMES


def test_what_contact_point_each_channel_delivers_to() -> None:
    kinds = {name: channels.contact_kind(name) for name in channels.NAMES}
    assert kinds == {
        "telegram": "telegram", "viber": "viber", "whatsapp": "whatsapp",
        "sms": "phone", "email": "email",
    }
    assert set(kinds.values()) <= set(ContactKind.values)


def test_only_viber_marks_the_contacts_its_bot_learns() -> None:
    assert {name: channels.network(name) for name in channels.NAMES} == {
        "telegram": "", "viber": "bot", "whatsapp": "", "sms": "", "email": "",
    }


@pytest.mark.parametrize(
    ("name", "value", "network", "reached"),
    [
        ("telegram", "123456789", "", True),  # a chat id the bot learned
        ("telegram", "-1001234567890", "", True),  # a group chat
        ("telegram", "@anna_k", "", False),  # a @username typed at the counter
        ("viber", "01234567890A=", "bot", True),  # a user id from the webhook
        ("viber", "+48501234567", "", False),  # a phone number
        ("whatsapp", "+48501234567", "", True),
        ("sms", "+48501234567", "", True),
        ("email", "anna@example.com", "", True),
    ],
)
def test_a_bot_writes_only_to_chats_that_opened_it(
    name: str, value: str, network: str, reached: bool
) -> None:
    assert channels.get(name).reaches(value, network) is reached


def test_which_channels_need_an_opened_chat() -> None:
    assert [c.name for c in channels.ALL if c.opened_chat is not None] == ["telegram", "viber"]


def test_only_whatsapp_has_a_reply_window_of_24_hours() -> None:
    windows = {c.name: c.reply_window for c in channels.ALL if c.reply_window is not None}
    assert windows == {"whatsapp": timedelta(hours=24)}


def test_how_the_counter_opt_in_reaches_each_channel() -> None:
    assert channels.qr_optin() == ("telegram", "viber", "whatsapp")
    assert [c.name for c in channels.ALL if c.typed_optin_code] == ["viber", "whatsapp", "sms"]


def test_how_providers_report_addresses() -> None:
    assert {c.name: c.address for c in channels.ALL} == {
        "telegram": "chat", "viber": "chat", "whatsapp": "phone", "sms": "phone",
        "email": "email",
    }


def test_labels_are_in_the_active_language() -> None:
    with translation.override("ru"):
        assert channels.label("email") == "Эл. почта"
        assert channels.label("sms") == "SMS"
        assert channels.label("whatsapp") == "WhatsApp"
    with translation.override("en"):
        assert channels.label("email") == "E-mail"
    assert channels.label("fax") == "fax"  # an unknown code is shown as it is


def test_an_unknown_name_is_no_channel() -> None:
    with pytest.raises(KeyError):
        channels.get("fax")
    with pytest.raises(KeyError):
        channels.contact_kind("call")
    assert channels.position("fax") == len(channels.NAMES)
    assert sorted(["email", "fax", "telegram", "sms"], key=channels.position) == [
        "telegram", "sms", "email", "fax",
    ]


def test_traits_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        channels.get("sms").contact = "email"  # type: ignore[misc]


def test_help_text_names_every_channel() -> None:
    assert channels.spoken() == "telegram, viber, whatsapp, sms or email"
    assert channels.spoken(("sms",)) == "sms"


def test_every_provider_delivers_on_a_channel_and_every_channel_has_one() -> None:
    served = {name: provider_class(name).channel for name in MODULES}
    assert set(served.values()) == set(channels.NAMES)
