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
    # As sent to the sample customer: 141 + " Meble Nowak" = 153, "{}" costs 4 septets
    # and "€" 2 (159), then "\n\nReply STOP to opt out." (24): 183 septets, two parts.
    assert "SMS: 183 characters, GSM-7, 2 segments" in texted
    # 19 + 2 + "Чтобы отписаться, ответьте СТОП." (32)
    assert "SMS: 53 characters, UCS-2, 1 segment" in texted
    # "Dziękujemy 😀": 13 units (the emoji counts twice) + 2 + "Aby zrezygnować, odpisz STOP."
    assert "SMS: 44 characters, UCS-2, 1 segment" in texted
    assert "sms-size" not in step_html(html, "mailed")


def test_the_editor_counts_the_typed_template_as_it_would_be_sent(
    login_client: Callable[[Staff], Client], manager: Staff, salesperson: Staff,
) -> None:
    client = login_client(manager)
    answer = client.post("/chains/sms-size/", {"language": "ru",
                                                "text": "Привет, {{ customer.first_name }}!"})
    # "Привет, Anna!" (13) + 2 + the Russian STOP line (32)
    assert "SMS: 47 characters, UCS-2, 1 segment" in answer.content.decode()
    broken = client.post("/chains/sms-size/", {"language": "en", "text": "Hi {{ customer.age }}"})
    assert "Template error" in broken.content.decode() and "age" in broken.content.decode()
    assert login_client(salesperson).post("/chains/sms-size/", {"text": "x"}).status_code == 403
