"""``/customers/{id}/export`` and ``/customers/{id}/erase``: privacy requests.

Only a token bound to no store may call them (decision 0012): a data subject's export
must be complete, across every store, and an erasure reaches every store's records, so
a store-bound token is refused with 403 whatever the customer.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.params import functions as param

from touchflow.api.auth import token_of
from touchflow.api.errors import ApiError
from touchflow.api.schemas import MAX_ID, ErrorOut
from touchflow.core.errors import InvalidInput
from touchflow.integrations.models import ApiToken
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.privacy.export import export_customer

router = Router(tags=["privacy"])


class ExportOut(Schema):
    format: str
    customer_id: int
    requested_id: int
    generated_at: str
    sections: dict[str, list[dict[str, Any]]]


class ErasureOut(Schema):
    customer_id: int
    customer_ids: list[int]
    counts: dict[str, int]


class ErasureQuery(Schema):
    suppress: bool = True


def _unbound(request: HttpRequest) -> ApiToken:
    token = token_of(request)
    if token.store_id is not None:
        raise ApiError(403, None, "Privacy requests need a token bound to no store: an "
                       "export or erasure covers every store.", "forbidden")
    return token


def _not_found(customer_id: int) -> ApiError:
    return ApiError(404, "customer_id", f"No customer {customer_id}.", "not_found")


@router.get("/customers/{customer_id}/export",
            response={200: ExportOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                      422: ErrorOut})
def export(request: HttpRequest,
           customer_id: int = param.Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """Everything Touchflow holds about the customer (GDPR art. 15/20), as sections of
    rows: profile, stores, contacts, consent history, visits, purchases, chains,
    messages with their attempts, replies, call tasks, the timeline and earlier privacy
    requests. A merged id answers with the survivor's export. Each call is logged."""
    token = _unbound(request)
    try:
        return export_customer(customer_id, Requester.of_token(token))
    except InvalidInput as exc:
        raise _not_found(customer_id) from exc


@router.post("/customers/{customer_id}/erase",
             response={200: ErasureOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       422: ErrorOut})
def erase(request: HttpRequest, query: Query[ErasureQuery],
          customer_id: int = param.Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """Erase the customer's personal data everywhere (GDPR art. 17); visits, purchases
    and message states stay as anonymous counts. Their contacts go on the suppression
    list unless `suppress=false`. Repeating it changes nothing more. Logged."""
    token = _unbound(request)
    try:
        report = erase_customer(customer_id, Requester.of_token(token),
                                suppress=query.suppress)
    except InvalidInput as exc:
        raise _not_found(customer_id) from exc
    return {"customer_id": report.customer_id, "customer_ids": report.customer_ids,
            "counts": report.counts}
