"""Chains in the web UI: who may see them, what the pages show, switching them on and off."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from tests.web.conftest import Clock
from touchflow.customers.models import Customer
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow
from touchflow.funnel.chains import open_warnings
from touchflow.stores.models import Role, Staff, Store


def test_salesperson_may_not_open_chains(
    login_client: Callable[[Staff], Client], salesperson: Staff, follow_up: Flow
) -> None:
    client = login_client(salesperson)
    assert client.get("/chains/").status_code == 403
    assert client.get("/chains/follow-up/").status_code == 403
    response = client.post("/chains/follow-up/status/", {"status": "paused"})
    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.status == "active"
    assert 'href="/chains/"' not in client.get("/").content.decode()


def test_signed_out_visitor_is_sent_to_sign_in(db: None, follow_up: Flow) -> None:
    response = Client().get("/chains/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/chains/"


def test_chain_list_counts_steps_members_and_recent_messages(
    login_client: Callable[[Staff], Client], manager: Staff, admin_staff: Staff,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], dispatch: Callable[[], None], web_clock: Clock,
) -> None:
    looker()
    looker(name="Boris", phone="+48601234567", email="boris@example.pl")
    web_clock.advance(hours=1)
    dispatch()  # both first messages go out
    assert Touch.objects.filter(state="sent").count() == 2

    html = login_client(manager).get("/chains/").content.decode()
    assert "Follow-up &lt;b&gt;after&lt;/b&gt; a visit" in html
    assert "<b>after</b>" not in html
    assert '<span class="status status-active">Active</span>' in html
    assert "3 steps" in html
    assert "2 customers in the chain" in html
    assert "2 sent in 7 days" in html
    assert "Customers and messages are counted for your stores." in html

    # A manager of another store sees the chain, but none of this store's numbers.
    elsewhere = make_staff(Role.MANAGER, [make_store()])
    html = login_client(elsewhere).get("/chains/").content.decode()
    assert "0 customers in the chain" in html and "0 sent in 7 days" in html

    html = login_client(admin_staff).get("/chains/").content.decode()
    assert "2 customers in the chain" in html
    assert "counted for your stores" not in html


def test_chain_page_shows_each_step_in_words_and_templates_as_text(
    login_client: Callable[[Staff], Client], manager: Staff, follow_up: Flow
) -> None:
    html = login_client(manager).get("/chains/follow-up/").content.decode()
    steps = html[html.index('class="steps"'):]
    assert [steps.index(f'id="step-{key}"') for key in ("hello", "ring", "later")] == sorted(
        steps.index(f'id="step-{key}"') for key in ("hello", "ring", "later"))
    assert "1 hour after entering the chain; between 10:00 and 20:00, customer&#x27;s local time" \
        in steps
    assert "SMS → E-mail" in steps
    assert "1 hour after the previous step; any time outside quiet hours" in steps
    assert "the salesperson who served the customer" in steps
    assert "2 days after the previous step; at 11:00, customer&#x27;s local time" in steps
    assert "yes: needs consent to offers" in steps
    assert "skip this message" in steps and "wait until the cap allows it" in steps
    assert "1 day after it is due" in steps
    # Templates per language, as written in the file and escaped.
    assert "Message · English" in steps and "Message · Polski" in steps
    assert "Hi from {{ store.name }}" in steps
    assert "Hello {{ customer.first_name }} &lt;script&gt;x&lt;/script&gt;" in steps
    assert "<script>x</script>" not in html
    assert "Call script · English" in steps
    assert "Call {{ customer.name }} and ask how it went." in steps
    # Where it came from.
    assert "<code>flows/follow-up.yaml</code>" in html
    assert "<dt>Version</dt><dd>1 · " in html
    assert "bought, unsubscribed" in html
    assert login_client(manager).get("/chains/nope/").status_code == 404


def test_pause_and_activate_change_the_status(
    login_client: Callable[[Staff], Client], manager: Staff, follow_up: Flow
) -> None:
    client = login_client(manager)
    assert 'value="paused"' in client.get("/chains/follow-up/").content.decode()
    response = client.post("/chains/follow-up/status/", {"status": "paused"})
    assert response.status_code == 302
    assert response["Location"] == "/chains/follow-up/"
    follow_up.refresh_from_db()
    assert follow_up.status == "paused"
    html = client.get("/chains/follow-up/").content.decode()
    assert "The chain is paused: nothing is sent from it." in html
    assert 'value="active"' in html

    # Never activated through the checks (loaded from a file): activating goes through
    # the page where each warning is acknowledged; once done, a pause is lifted at once.
    response = client.post("/chains/follow-up/status/", {"status": "active"})
    assert response["Location"] == "/chains/follow-up/versions/1/activate/"
    follow_up.refresh_from_db()
    assert follow_up.status == "paused"
    keys = [w.key for w in open_warnings(follow_up.versions.get(number=1))]
    client.post("/chains/follow-up/versions/1/activate/", {"acknowledged": keys})
    follow_up.refresh_from_db()
    assert follow_up.status == "active"
    client.post("/chains/follow-up/status/", {"status": "paused"})
    client.post("/chains/follow-up/status/", {"status": "active"})
    follow_up.refresh_from_db()
    assert follow_up.status == "active"

    # Anything else (e.g. back to draft) is not offered here and changes nothing.
    client.post("/chains/follow-up/status/", {"status": "draft"})
    follow_up.refresh_from_db()
    assert follow_up.status == "active"
    assert client.get("/chains/follow-up/status/").status_code == 405


def test_status_change_needs_the_csrf_token(manager: Staff, follow_up: Flow) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post("/chains/follow-up/status/", {"status": "paused"}).status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.status == "active"
