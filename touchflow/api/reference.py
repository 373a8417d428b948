"""``/reasons`` and ``/categories``: the codes a POS needs to fill in a visit."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from touchflow.api import serializers
from touchflow.api.schemas import CategoryListOut, ErrorOut, ReasonListOut
from touchflow.stores.models import Category
from touchflow.visits.models import Reason

router = Router(tags=["reference"])


@router.get("/reasons", response={200: ReasonListOut, 401: ErrorOut})
def list_reasons(request: HttpRequest) -> dict[str, Any]:
    """The active reasons for not buying, in display order: `objective` reasons and
    `seller_error`s, with labels in every language."""
    return {"results": [serializers.reason(r) for r in Reason.objects.filter(active=True)]}


@router.get("/categories", response={200: CategoryListOut, 401: ErrorOut})
def list_categories(request: HttpRequest) -> dict[str, Any]:
    """The active product categories, in display order."""
    rows = Category.objects.filter(active=True)
    return {"results": [serializers.category(c) for c in rows]}
