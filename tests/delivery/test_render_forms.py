"""A plain message's ``Form`` (its store's and seller's names put in once, a format
string filled per customer) makes exactly what ``Renderer.render`` makes from the whole
context, and there is no form wherever the renderer would not take the plain path.
No database."""

from __future__ import annotations

import pytest

from tests.flows.test_plain_templates import NOT_PLAIN, PLAIN
from touchflow.delivery.render import Renderer
from touchflow.flows.templates import message_context

TRICKY = [
    "Prices {from} 10 {0} {{ store.name }} {}",  # format fields in the text itself
    "{{ seller.first_name }} / {{ seller.name }} at {{ store.name }}",
    "{{ review_url }} {{ referral_code }} {{ referral_url }} {{ rating_url }}",
    "Hi {{ customer.name }}, stop: {{ unsubscribe_url }}",
]
UNKNOWN = ["{{ store.phone }}", "{{ customer }}", "{{ store }}", "{{ nobody }}",
           "{{ unsubscribe_url.x }}", "{{ seller.items }}"]
LINKS = [
    ("https://x/u/1.sms.2.mac", "", "", "", ""),
    ("https://x/u/1.email.2.mac", "https://x/r/5.mac", "K7M2", "https://x/ref/K7M2",
     "https://x/go/5.mac"),
]


@pytest.mark.parametrize("text", [*PLAIN, *TRICKY])
@pytest.mark.parametrize("subject", ["", "{{ store.name }} for {{ customer.first_name }}"])
@pytest.mark.parametrize("name", ["Anna Nowak", "", "Ölga {1} O'Brien-Łukasz"])
@pytest.mark.parametrize("seller", ["Piotr Kowalski", "", "{0} }{"])
def test_a_forms_message_is_what_the_renderer_makes(
    text: str, subject: str, name: str, seller: str
) -> None:
    messages = {"pl": {"text": text, "subject": subject}, "en": {"text": "en " + text}}
    renderer = Renderer()
    form = renderer.form(messages["pl"], "Meble & {Co}", seller)
    assert form is not None
    for links in LINKS:
        for channel, asks in [("sms", ""), ("email", ""), ("sms", "scale"),
                              ("email", "yes_no"), ("telegram", "scale")]:
            expected = renderer.render(
                messages, "pl", "en", message_context(name, "Meble & {Co}", seller, *links),
                channel, asks)
            assert form.render("pl", name, links, channel, asks) == expected


@pytest.mark.parametrize("source", [*NOT_PLAIN, *UNKNOWN])
def test_no_form_where_the_renderer_leaves_it_to_jinja(source: str) -> None:
    renderer = Renderer()
    assert renderer.form({"text": source}, "Meble", "Piotr") is None
    assert renderer.form({"text": "Hi", "subject": source}, "Meble", "Piotr") is None


def test_a_template_that_does_not_compile_has_no_form() -> None:
    assert Renderer().form({"text": "{% if %}"}, "Meble", "Piotr") is None
