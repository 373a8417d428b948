from __future__ import annotations

import pytest
from django.test import Client

from touchflow.stores.models import Role, Staff, Store
from touchflow.visits.models import Reason


def login(client: Client, staff: Staff) -> Client:
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/admin/visits/reason/", 200),
        ("/admin/stores/category/", 200),
        ("/admin/stores/store/", 403),
        ("/admin/stores/staff/", 403),
        ("/admin/integrations/apitoken/", 403),
    ],
)
def test_manager_maintains_reasons_and_categories_only(
    client: Client, manager: Staff, url: str, expected: int
) -> None:
    assert login(client, manager).get(url).status_code == expected


@pytest.mark.parametrize(
    "url",
    ["/admin/visits/reason/", "/admin/stores/store/", "/admin/stores/staff/"],
)
def test_admin_manages_everything(client: Client, admin_staff: Staff, url: str) -> None:
    assert login(client, admin_staff).get(url).status_code == 200


def test_salesperson_has_no_admin(client: Client, salesperson: Staff) -> None:
    response = login(client, salesperson).get("/admin/visits/reason/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_manager_adds_a_reason(client: Client, manager: Staff) -> None:
    response = login(client, manager).post(
        "/admin/visits/reason/add/",
        {
            "code": "delivery_too_slow",
            "kind": "objective",
            "label_en": "Delivery too slow",
            "label_ru": "Долгая доставка",
            "label_pl": "Za długa dostawa",
            "position": 40,
            "active": "on",
        },
    )
    assert response.status_code == 302
    reason = Reason.objects.get(code="delivery_too_slow")
    assert (reason.kind, reason.builtin, reason.label("ru")) == (
        "objective",
        False,
        "Долгая доставка",
    )


def test_admin_flag_follows_the_role(db: None, store: Store) -> None:
    staff = Staff.objects.create_user(username="x", password="pw-123456789", role=Role.SALESPERSON)
    assert not staff.is_staff
    staff.role = Role.MANAGER
    staff.save()
    assert staff.is_staff and not staff.is_superuser
    staff.role = Role.ADMIN
    staff.save()
    assert staff.is_staff and staff.is_superuser and staff.is_admin
