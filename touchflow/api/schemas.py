"""The JSON bodies of the API: what it accepts and what it answers.

Input schemas bound every value (length, range, characters) so that nothing an
integrator sends can reach the database in a shape it refuses; they reject unknown
keys so that a typo (``"bougth"``) is an error naming the key, not silently ignored.
Rules that need the database (reasons, categories, staff, de-duplication) are the
domain actions' business.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

# The largest id a database row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1
# Times before this are typing errors, and would overflow time-zone arithmetic near year 1.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

Language = Literal["en", "ru", "pl"]
ContactCaptureCode = Literal["taken", "refused", "not_attempted"]


def _printable(value: str) -> str:
    # PostgreSQL cannot store NUL in text; other control characters are junk from a
    # broken till, never part of a name or a note.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise PydanticCustomError("invalid_characters", "Text must not contain control characters.")
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise PydanticCustomError("invalid_choice", "Unknown time zone {tz}; use an IANA name "
                                  "such as Europe/Warsaw.", {"tz": repr(value)})
    return value


def _not_too_early(value: datetime) -> datetime:
    comparable = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if comparable < EARLIEST:
        raise PydanticCustomError("out_of_range", "The time must be after 2000-01-01.")
    return value


# Strings of at most N characters, without control characters.
Text64 = Annotated[str, StringConstraints(max_length=64), AfterValidator(_printable)]
Text150 = Annotated[str, StringConstraints(max_length=150), AfterValidator(_printable)]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]
Text254 = Annotated[str, StringConstraints(max_length=254), AfterValidator(_printable)]
Text2000 = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_printable)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True),
                 AfterValidator(_printable)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                              strip_whitespace=True), AfterValidator(_printable)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
Moment = Annotated[datetime, AfterValidator(_not_too_early)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class ConsentIn(Input):
    contact: bool = Field(True, description="May we send service messages to these contacts?")
    marketing: bool = Field(False, description="May we send offers and promotions?")


class ContactsIn(Input):
    """A person's name, contact points and preferences. Empty strings count as absent."""

    name: Text200 | None = None
    phone: Text64 | None = Field(None, description="Any format; read as local to the store "
                                   "when it has no country code. Stored in E.164.")
    email: Text254 | None = None
    telegram: Text64 | None = Field(None, description="@username or numeric chat id.")
    viber: Text64 | None = Field(None, description="The phone number Viber uses.")
    whatsapp: Text64 | None = Field(None, description="The phone number WhatsApp uses.")
    language: Language | None = None
    time_zone: TimeZone | None = None
    consent: ConsentIn | None = None


class VisitCustomerIn(ContactsIn):
    id: Id | None = Field(None, description="An existing customer (merged ids resolve).")


class PurchaseCustomerIn(ContactsIn):
    external_id: ExternalId | None = Field(None, description="The customer's id in the POS.")


class VisitIn(Input):
    store: Code | None = Field(None, description="Store slug; optional for a store-bound token.")
    staff: Text150 | None = Field(None, description="Username of the seller.")
    occurred_at: Moment | None = Field(None, description="ISO 8601; without an offset it is "
                                       "the store's local time. Default: now.")
    bought: bool
    contact_capture: ContactCaptureCode
    reason: Code | None = Field(None, description="Reason code; required iff bought is false.")
    customer: VisitCustomerIn | None = None
    categories: list[Code] | None = Field(None, max_length=50)
    note: Text2000 | None = None
    external_id: ExternalId | None = Field(None, description="Idempotency key from the POS.")


class ItemIn(Input):
    sku: Text64 = ""
    name: Text200 = ""
    quantity: int = Field(1, ge=1, le=1_000_000)
    unit_price: Decimal = Field(ge=0, lt=Decimal("1e12"), decimal_places=2)


class PurchaseIn(Input):
    store: Code | None = Field(None, description="Store slug; optional for a store-bound token.")
    customer_id: Id | None = Field(None, description="An existing customer; or give `customer`.")
    customer: PurchaseCustomerIn | None = Field(None, description="Found or created by contacts "
                                                "or external_id.")
    visit_id: Id | None = None
    occurred_at: Moment | None = None
    amount: Decimal = Field(description="Decimal string (\"12.50\") or number; two decimals.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        None, description="ISO 4217; default: the store's currency.")
    categories: list[Code] | None = Field(None, max_length=50)
    items: list[ItemIn] | None = Field(None, max_length=1000)
    external_id: ExternalId | None = Field(None, description="Idempotency key from the POS.")


class CustomerIn(ContactsIn):
    store: Code | None = Field(None, description="Store slug; optional for a store-bound token.")
    external_id: ExternalId | None = None
    tags: list[Code] | None = Field(None, max_length=20)


class CustomerQuery(Input):
    store: Code | None = None
    phone: Text64 | None = None
    email: Text254 | None = None
    telegram: Text64 | None = None
    external_id: ExternalId | None = None


# --- answers -------------------------------------------------------------------------


class Problem(Schema):
    field: str | None
    message: str
    code: str


class ErrorOut(Schema):
    detail: list[Problem]


class VisitOut(Schema):
    id: int
    store: str
    staff: str | None
    customer_id: int | None
    occurred_at: datetime
    bought: bool
    contact_capture: str
    reason: str | None
    visit_class: str
    categories: list[str]
    note: str
    external_id: str | None
    created_at: datetime


class ItemOut(Schema):
    sku: str
    name: str
    quantity: int
    unit_price: str


class PurchaseOut(Schema):
    id: int
    store: str
    customer_id: int
    visit_id: int | None
    occurred_at: datetime
    amount: str
    currency: str
    categories: list[str]
    items: list[ItemOut]
    external_id: str | None
    created_at: datetime


class ConsentOut(Schema):
    contact: bool | None = Field(description="null: never asked")
    marketing: bool | None
    updated_at: datetime | None


class ContactOut(Schema):
    kind: str
    network: str
    value: str
    consent: ConsentOut


class CustomerOut(Schema):
    id: int
    requested_id: int = Field(description="The id asked for; differs from id after a merge.")
    merged_into: int | None = Field(description="Set when requested_id was merged into id.")
    name: str
    language: str
    time_zone: str
    country: str
    tags: list[str]
    external_id: str | None = Field(description="The customer's id in the caller's store "
                                    "(without a store: in their home store).")
    home_store: str
    created_at: datetime
    contacts: list[ContactOut]


class TimelineEventOut(Schema):
    kind: str
    at: datetime
    store: str | None
    staff: str | None
    visit_id: int | None
    purchase_id: int | None
    data: dict[str, object]


class CustomerDetailOut(CustomerOut):
    timeline: list[TimelineEventOut]


class CustomerListOut(Schema):
    count: int
    results: list[CustomerOut]


class ReasonOut(Schema):
    code: str
    kind: str
    labels: dict[str, str]


class ReasonListOut(Schema):
    results: list[ReasonOut]


class CategoryOut(Schema):
    code: str
    labels: dict[str, str]


class CategoryListOut(Schema):
    results: list[CategoryOut]
