"""The chain page shows how long each template is as an SMS, for steps that may go by SMS."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from tests.web.conftest import Clock
from touchflow.flows.actions import load_flow_text
from touchflow.stores.models import Staff

LONG = "a" * 141 + " {{ store.name }}"  # 158 characters as written
CHAIN = f"""\
slug: sizes
name: Sizes
audience: {{trigger: visit, visit_class: [type3]}}
exit_on: [purchase, opt_out]
steps:
  - key: texted
    kind: info
    after: 1h
    channels: [telegram, sms, email]
    expires: 1d
    message:
      en: {{subject: "Hi", text: "{LONG}{{}}€"}}
      ru: {{subject: "Привет", text: "Спасибо, что зашли!"}}
      pl: {{subject: "Cześć", text: "Dziękujemy 😀"}}
  - key: mailed
    kind: info
    after: 1d
    channels: [email]
    expires: 1d
    message:
      en: {{subject: "Later", text: "Only by e-mail"}}
"""


def step_html(html: str, key: str) -> str:
    start = html.index(f'id="step-{key}"')
    end = html.find('class="card step-card"', start)
    return html[start : end if end != -1 else len(html)]


def test_sms_steps_show_length_encoding_and_segments_of_each_template(
    login_client: Callable[[Staff], Client], manager: Staff, web_clock: Clock
) -> None:
    load_flow_text(CHAIN, "flows/sizes.yaml")
    html = login_client(manager).get("/chains/sizes/").content.decode()
    texted = step_html(html, "texted")
    # As written: 158 characters whose four braces cost 2 septets each (162), then
    # "{}" (4) and "€" (2): 168 septets, two parts.
    assert "SMS: 168 characters, GSM-7, 2 segments" in texted
    assert "SMS: 19 characters, UCS-2, 1 segment" in texted
    assert "SMS: 13 characters, UCS-2, 1 segment" in texted  # the emoji counts twice
    assert "sms-size" not in step_html(html, "mailed")
