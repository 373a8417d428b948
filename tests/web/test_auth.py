"""Sign-in, sign-out and login throttling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import time_machine
from django.test import Client

from touchflow.core import clock
from touchflow.stores.models import LoginFailure, Role, Staff, Store

PASSWORD = "counter-pass-1"


def _login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password},
                       REMOTE_ADDR=address)


def test_login_page_renders_our_template(db: None) -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"htmx.min.js" in response.content


def test_pages_require_login(db: None) -> None:
    client = Client()
    for url in ("/", "/customers/", "/profile/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={url}"


def test_login_and_logout(salesperson: Staff) -> None:
    client = Client()
    response = _login(client, "sam", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(salesperson: Staff) -> None:
    client = Client()
    response = _login(client, "sam", "wrong")
    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_failures_lock_the_username_even_with_the_right_password(salesperson: Staff) -> None:
    client = Client()
    for _ in range(5):
        assert _login(client, "sam", "wrong").status_code == 200
    response = _login(client, "sam", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lock_is_per_username_and_case_insensitive(
    salesperson: Staff, make_staff: Callable[..., Staff], store: Store
) -> None:
    make_staff(stores=[store], username="other")
    client = Client()
    for _ in range(5):
        _login(client, "SAM", "wrong", address=f"10.0.0.{_ + 1}")
    assert _login(client, "sam", PASSWORD, address="10.0.1.1").status_code == 429
    # Another account from the same addresses is not locked.
    assert _login(Client(), "other", PASSWORD, address="10.0.0.1").status_code == 302


def test_lock_lifts_after_the_window(salesperson: Staff) -> None:
    client = Client()
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            _login(client, "sam", "wrong")
        traveller.shift(timedelta(minutes=14))
        response = _login(client, "sam", PASSWORD)
        assert response.status_code == 429
        assert "Try again in 1 minute." in response.content.decode()
        traveller.shift(timedelta(minutes=1, seconds=1))
        assert _login(client, "sam", PASSWORD).status_code == 302


def test_four_failures_then_success_resets_the_username_counter(salesperson: Staff) -> None:
    for _ in range(4):
        _login(Client(), "sam", "wrong")
    assert _login(Client(), "sam", PASSWORD).status_code == 302
    for _ in range(4):
        _login(Client(), "sam", "wrong")
    assert _login(Client(), "sam", PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_lock_the_address(salesperson: Staff) -> None:
    for n in range(20):
        _login(Client(), f"nobody{n}", "wrong", address="192.0.2.7")
    response = _login(Client(), "sam", PASSWORD, address="192.0.2.7")
    assert response.status_code == 429
    # The same account from elsewhere still signs in.
    assert _login(Client(), "sam", PASSWORD, address="192.0.2.8").status_code == 302


def test_admin_login_counts_failures_and_locks_like_ours(make_staff: Callable[..., Staff]) -> None:
    make_staff(Role.ADMIN, username="ada")
    assert Client().post("/admin/login/", {"username": "ada", "password": PASSWORD},
                         REMOTE_ADDR="10.0.0.9").status_code == 302
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "ada", "password": "wrong"},
                    REMOTE_ADDR="10.0.0.9")
    response = client.post("/admin/login/", {"username": "ada", "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 200
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session
    # One lock for both doors: the web's sign-in refuses the account as well.
    assert _login(Client(), "ada", PASSWORD, address="10.0.0.10").status_code == 429


def test_failures_are_stored_hashed_and_a_right_password_clears_them(
    salesperson: Staff,
) -> None:
    _login(Client(), "sam", "wrong", address="10.0.0.1")
    keys = set(LoginFailure.objects.values_list("key", flat=True))
    assert len(keys) == 2
    assert not any("sam" in k or "10.0.0.1" in k for k in keys)
    assert _login(Client(), "sam", PASSWORD, address="10.0.0.1").status_code == 302
    # The address's failure stays (others share the address); the username's is gone.
    assert LoginFailure.objects.count() == 1
