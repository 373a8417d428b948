"""Dead letters: managers see their stores' failed messages and can send one again."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from tests.servers import Sink
from tests.web.conftest import Clock
from touchflow.customers.models import Customer
from touchflow.delivery.dead_letters import group_key
from touchflow.delivery.models import Touch
from touchflow.flows.models import Enrollment
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent


def _two_dead_letters(
    looker: Callable[..., Customer], sink: tuple[Sink, str], web_clock: Clock,
    dispatch: Callable[[], None],
) -> tuple[Touch, Touch]:
    """Two customers whose first SMS the gateway refuses (400: final, no retry)."""
    anna = looker(email=None)
    boris = looker(name="Boris", phone="+48601234567", email=None)
    sink[0].script = [(400, {}), (400, {})]
    web_clock.advance(hours=1)
    dispatch()
    first = Touch.objects.get(customer=anna, step__key="hello")
    second = Touch.objects.get(customer=boris, step__key="hello")
    assert (first.state, second.state) == ("dead", "dead")
    return first, second


def test_salesperson_may_not_see_dead_letters(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], sink: tuple[Sink, str], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    first, _second = _two_dead_letters(looker, sink, web_clock, dispatch)
    client = login_client(salesperson)
    assert client.get("/dead-letters/").status_code == 403
    assert client.post(f"/dead-letters/{first.pk}/retry/").status_code == 403
    first.refresh_from_db()
    assert first.state == "dead"
    assert 'href="/dead-letters/"' not in client.get("/").content.decode()


def test_manager_sees_their_stores_dead_letters_with_the_failure(
    login_client: Callable[[Staff], Client], manager: Staff,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], sink: tuple[Sink, str], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    first, second = _two_dead_letters(looker, sink, web_clock, dispatch)
    client = login_client(manager)
    html = client.get("/dead-letters/").content.decode()
    assert 'href="/dead-letters/"' in html
    # Two refusals that differ only in the provider's id are one problem.
    key = group_key("dead", first.last_error)
    assert key == group_key("dead", second.last_error)
    assert html.count('class="card dead-letter-group"') == 1
    assert f'<a href="/dead-letters/group/{key}/"><strong class="group-count">2 ×</strong>' in html
    assert ('<code class="group-reason">HTTP 400: {&quot;id&quot;: &quot;msg-&lt;n&gt;&quot;}'
            '</code>') in html
    assert f'id="touch-{first.pk}"' not in html

    html = client.get(f"/dead-letters/group/{key}/").content.decode()
    assert "2 messages failed" in html
    assert f'id="touch-{first.pk}"' in html and f'id="touch-{second.pk}"' in html
    assert html.index(f'id="touch-{second.pk}"') < html.index(f'id="touch-{first.pk}"')
    assert "Follow-up &lt;b&gt;after&lt;/b&gt; a visit" in html
    assert "<code>hello</code>" in html
    assert "<dd>SMS</dd>" in html
    assert "<dt>Attempts</dt><dd>1</dd>" in html
    # The two go out at once: which the sink answered first (msg-1) is not fixed.
    assert {first.last_error, second.last_error} == {
        'HTTP 400: {"id": "msg-1"}', 'HTTP 400: {"id": "msg-2"}'
    }
    assert '<p class="failure">HTTP 400: {&quot;id&quot;: &quot;msg-1&quot;}</p>' in html

    outsider = make_staff(Role.MANAGER, [make_store()])
    client = login_client(outsider)
    assert "dead-letter-group" not in client.get("/dead-letters/").content.decode()
    assert client.get(f"/dead-letters/group/{key}/").status_code == 404
    assert client.post(f"/dead-letters/{first.pk}/retry/").status_code == 404
    first.refresh_from_db()
    assert first.state == "dead"


def test_retry_requeues_exactly_that_touch(
    login_client: Callable[[Staff], Client], manager: Staff,
    looker: Callable[..., Customer], sink: tuple[Sink, str], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    first, second = _two_dead_letters(looker, sink, web_clock, dispatch)
    web_clock.advance(minutes=30)
    client = login_client(manager)
    response = client.post(f"/dead-letters/{first.pk}/retry/")
    assert response.status_code == 302
    # Back to the group: the other refusal is still in it.
    key = group_key("dead", second.last_error)
    assert response["Location"] == f"/dead-letters/group/{key}/"

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.due_at, first.attempts, first.reason, first.finished_at) == (
        "queued", web_clock.now(), 1, "requeued by maria", None)
    assert second.state == "dead"
    row = TimelineEvent.objects.get(customer=first.customer, data__outcome="requeued")
    assert row.staff == manager
    html = client.get(response["Location"]).content.decode()
    assert "The message is queued to be sent again now." in html
    assert f'id="touch-{first.pk}"' not in html and f'id="touch-{second.pk}"' in html

    # The worker sends it now; the gateway accepts this time.
    dispatch()
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("sent", 2)
    assert Enrollment.objects.get(pk=first.enrollment_id).state == "active"
    # A retry of a touch that is no longer dead changes nothing.
    client.post(f"/dead-letters/{first.pk}/retry/")
    first.refresh_from_db()
    assert first.state == "sent"


def test_a_customer_who_left_the_chain_is_not_written_to_again(
    login_client: Callable[[Staff], Client], manager: Staff,
    looker: Callable[..., Customer], sink: tuple[Sink, str], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    from touchflow.delivery.enrollments import leave

    first, _second = _two_dead_letters(looker, sink, web_clock, dispatch)
    leave(first.customer_id, "opt_out", web_clock.now())
    response = login_client(manager).post(f"/dead-letters/{first.pk}/retry/", follow=True)
    assert "Not sent again: the customer has left this chain." in response.content.decode()
    first.refresh_from_db()
    assert first.state == "dead"
