"""The JSON bodies of the API: what it accepts and what it answers.

Input schemas bound every value (length, range, characters) so that nothing an
integrator sends can reach the database in a shape it refuses; they reject unknown
keys so that a typo (``"bougth"``) is an error naming the key, not silently ignored.
What the OpenAPI document generated from them refuses, they refuse too (the fuzz in
``tests/api/test_fuzz.py`` holds them to it): no ``"5"`` for an integer, no ``1`` for
a boolean, no control character that stripping would hide. Rules that need the
database (reasons, categories, staff, de-duplication) are the domain actions' business.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    StrictBool,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from touchflow.core import currencies, text

# The largest id a database row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1
# Times before this are typing errors, and would overflow time-zone arithmetic near year 1.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

Language = Literal["en", "ru", "pl"]
ContactCaptureCode = Literal["taken", "refused", "not_attempted"]


# Tab, line feed and carriage return are text; every other C0 control character is not
# (touchflow/core/text.py).
PRINTABLE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


def _printable(value: Any) -> Any:
    # The web forms refuse the same characters (touchflow/core/text.py says why).
    if isinstance(value, str) and text.has_control_characters(value):
        raise PydanticCustomError("invalid_characters", "Text must not contain control characters.")
    return value


class Printable:
    """Refuses control characters, and says so in the JSON schema (``PRINTABLE_PATTERN``).

    It checks the text as sent, before ``strip_whitespace`` drops a leading or trailing
    vertical tab or form feed (both count as space): what the schema refuses, the API
    refuses, and the other way round.
    """

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_printable, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = PRINTABLE_PATTERN
        return json_schema


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise PydanticCustomError("invalid_choice", "Unknown time zone {tz}; use an IANA name "
                                  "such as Europe/Warsaw.", {"tz": repr(value)})
    return value


def _currency(value: str) -> str:
    if not currencies.is_currency(value.upper()):
        raise PydanticCustomError("invalid_currency", "{code} is not an ISO 4217 currency code; "
                                  "use one such as GBP.", {"code": repr(value)})
    return value


def _iso_text(value: Any) -> Any:
    # The schema says a string; pydantic would also take a number as a Unix time.
    if not isinstance(value, str | datetime):
        raise PydanticCustomError("datetime_type", "Send the time as an ISO 8601 string, "
                                  "such as 2025-03-01T14:30:00+01:00.")
    return value


def _not_too_early(value: datetime) -> datetime:
    comparable = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if comparable < EARLIEST:
        raise PydanticCustomError("out_of_range", "The time must be after 2000-01-01.")
    return value


# Strings of at most N characters, without control characters; the limits are the web
# forms' too (touchflow/core/text.py).
Text64 = Annotated[str, StringConstraints(max_length=text.CODE), Printable()]
Text150 = Annotated[str, StringConstraints(max_length=text.USERNAME), Printable()]
Text200 = Annotated[str, StringConstraints(max_length=text.NAME), Printable()]
Text254 = Annotated[str, StringConstraints(max_length=text.EMAIL), Printable()]
Text2000 = Annotated[str, StringConstraints(max_length=text.NOTE), Printable()]
Code = Annotated[str, StringConstraints(min_length=1, max_length=text.CODE,
                                        strip_whitespace=True), Printable()]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=text.EXTERNAL_ID,
                                              strip_whitespace=True), Printable()]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_currency)]
Moment = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_not_too_early)]
# Strict: the schema says integer, so "5" and 5.0 are refused, not read as 5.
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class ConsentIn(Input):
    contact: StrictBool = Field(True, description="May we send service messages to these "
                                "contacts?")
    marketing: StrictBool = Field(False, description="May we send offers and promotions?")


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
    bought: StrictBool  # the schema says boolean: 1, "yes" and "false" are refused
    contact_capture: ContactCaptureCode
    reason: Code | None = Field(None, description="Reason code; required iff bought is false.")
    customer: VisitCustomerIn | None = None
    categories: list[Code] | None = Field(None, max_length=50)
    note: Text2000 | None = None
    external_id: ExternalId | None = Field(None, description="Idempotency key from the POS.")
    referral_code: Code | None = Field(
        None, description="The referral code a new customer came with; needs their contacts.")


class ItemIn(Input):
    sku: Text64 = ""
    name: Text200 = ""
    quantity: Annotated[int, Strict()] = Field(1, ge=1, le=1_000_000)
    unit_price: Decimal = Field(ge=0, lt=Decimal("1e12"), decimal_places=2)


class PurchaseIn(Input):
    store: Code | None = Field(None, description="Store slug; optional for a store-bound token.")
    customer_id: Id | None = Field(None, description="An existing customer; or give `customer`.")
    customer: PurchaseCustomerIn | None = Field(None, description="Found or created by contacts "
                                                "or external_id.")
    visit_id: Id | None = None
    occurred_at: Moment | None = None
    amount: Decimal = Field(description="Decimal string (\"12.50\") or number; two decimals.")
    currency: Currency | None = Field(
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
    amount: str | None = Field(description="null: a sale logged at the counter whose amount "
                               "the till has not reported yet.")
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
    home_store: str | None = Field(description="Null for a store-bound token of another store: "
                                   "a store sees only what it recorded.")
    created_at: datetime = Field(description="For a store-bound token of another store than "
                                 "the home store: when this store first met the customer.")
    contacts: list[ContactOut] = Field(description="The contact points this token's store "
                                       "recorded (all of them for an unbound token), with the "
                                       "consent recorded there.")


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
