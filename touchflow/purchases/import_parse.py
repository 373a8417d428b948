"""Reading purchase lines from CSV rows: one pass, invoices grouped, bad rows kept aside.

Nothing here touches the database. The result says, for every invoice, either the
lines to import or why it is held back, so the writer never sees half an invoice.
"""

from __future__ import annotations

import csv
import hashlib
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import ContactInput, check_contact
from touchflow.purchases.actions import check_currency
from touchflow.purchases.import_phone import plain_phone
from touchflow.purchases.import_report import (
    CANCELLED,
    NO_CUSTOMER,
    BadRow,
    HeldBack,
    ImportReport,
)

MAX_ID = 100  # Purchase.external_id and Customer.external_id are CharField(100)
MAX_AMOUNT = Decimal("1e12")  # Purchase.amount is DecimalField(14, 2)
CENT = Decimal("0.01")
# Tills drift; the same tolerance the purchase actions allow.
FUTURE_SKEW = timedelta(minutes=10)
# CustomerID is often written by spreadsheets as a float: "17850.0" is customer 17850.
_FLOAT_INT = re.compile(r"^(\d+)\.0*$")
PROGRESS_EVERY = 5000

# How lines become purchases: by the file's invoice column, one purchase per line, or
# one per customer and local day (for files without an invoice column).
INVOICE_COLUMN, INVOICE_LINE, INVOICE_CUSTOMER_DAY = "column", "line", "customer-day"
INVOICE_MODES = (INVOICE_COLUMN, INVOICE_LINE, INVOICE_CUSTOMER_DAY)


class LineError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ParseSettings:
    time_zone: tzinfo
    date_format: str | None
    region: str
    now: datetime
    cancel_prefix: str = "C"
    invoice_mode: str = INVOICE_COLUMN
    # Physical line number → why its bytes could not be decoded (from import_source).
    undecodable: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Buyer:
    """What a line says of its customer (and the sale's currency and visit): the cells
    every line of an invoice repeats, read once per distinct set of raw cells and shared
    by the lines that carry them."""

    customer_key: str
    external_id: str | None
    contacts: tuple[ContactInput, ...]
    name: str
    country: str
    currency: str
    visit: int | None
    # The customer as these lines describe them, made once for all their invoices.
    draft: CustomerDraft


@dataclass(slots=True)
class Line:
    number: int
    occurred_at: datetime
    amount: Decimal
    item: dict[str, Any] | None
    category: str
    buyer: Buyer


@dataclass(frozen=True, slots=True)
class _Refused:
    """A line's customer cells cannot be read; ``first`` when the error comes before the
    line's date and amounts are read (a bad customer id), as the messages are ordered."""

    error: LineError
    first: bool


# The line names no customer at all (no id, e-mail or phone).
_NOBODY = object()


@dataclass
class InvoiceDraft:
    """One purchase to import: its lines agree on the customer and add up."""

    invoice: str
    customer_key: str
    occurred_at: datetime
    amount: Decimal
    items: list[dict[str, Any]]
    categories: list[str]
    lines: int
    currency: str = ""  # "" = the import's currency
    # The counter sale this invoice completes (decision 0007), with the invoice's line
    # numbers (only then: the writer may refuse such an invoice line by line).
    visit: int | None = None
    numbers: tuple[int, ...] = ()


@dataclass
class CustomerDraft:
    """A customer as the file describes them (from the first line that says so)."""

    key: str
    external_id: str | None
    contacts: tuple[ContactInput, ...]
    name: str
    country: str


@dataclass
class ParseResult:
    invoices: list[InvoiceDraft] = field(default_factory=list)
    customers: dict[str, CustomerDraft] = field(default_factory=dict)


class _Reader:
    """Turns one CSV row into a Line, with caches for the values that repeat."""

    def __init__(self, columns: dict[str, int], header: Sequence[str], settings: ParseSettings):
        self.columns = columns
        self.header = header
        self.width = len(header)
        self.settings = settings
        self.dates: dict[str, datetime | LineError] = {}
        # A wall-clock time before this cannot be in the future in any time zone (offsets
        # stay within a day): such dates skip the aware comparison, the costly part.
        self._long_ago = settings.now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=2)
        self._numbers: dict[tuple[str, str], Decimal | LineError] = {}
        self._contacts: dict[tuple[str, str], tuple[ContactInput, ...] | LineError] = {}
        self._currencies: dict[str, str | LineError] = {}
        self._seen_rows: dict[str, int] = {}
        self._items: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._amount_columns = [
            columns[c] for c in ("quantity", "unit_price", "amount") if c in columns
        ]
        # A line is three lookups: its customer cells, its date, its goods cells (each
        # cache keyed by the raw cells, so whatever they say is worked out once).
        self.buyer_cells = _cells(columns, BUYER_CELLS)
        self.goods_cells = _cells(columns, GOODS_CELLS)
        self.date_at = columns["occurred_at"]
        self.buyers: dict[Any, Buyer | _Refused | object] = {}
        self.goods_read: dict[Any, tuple[Decimal, dict[str, Any] | None, str] | LineError] = {}

    def cell(self, row: Sequence[str], target: str) -> str:
        index = self.columns.get(target)
        return row[index].strip() if index is not None else ""

    def column(self, target: str) -> str:
        return self.header[self.columns[target]] if target in self.columns else target

    def fail(self, target: str, message: str) -> LineError:
        return LineError(self.column(target), message)

    def customer_id(self, row: Sequence[str]) -> str:
        raw = self.cell(row, "customer_id")
        match = _FLOAT_INT.match(raw)
        value = match.group(1) if match else raw
        if len(value) > MAX_ID:
            raise self.fail("customer_id", f"The customer id is longer than {MAX_ID} characters.")
        return value

    def number(self, row: Sequence[str], target: str) -> Decimal:
        raw = self.cell(row, target)
        cached = self._numbers.get((target, raw))
        if cached is None:
            cached = self._numbers[(target, raw)] = self._parse_number(raw, target)
        if isinstance(cached, LineError):
            raise cached
        return cached

    def _parse_number(self, raw: str, target: str) -> Decimal | LineError:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return self.fail(target, f"Not a number: {raw!r}.")
        if not value.is_finite():
            return self.fail(target, f"Not a number: {raw!r}.")
        return value

    def when(self, row: Sequence[str]) -> datetime:
        found = self.date(row[self.date_at])
        if isinstance(found, LineError):
            raise found
        return found

    def date(self, raw: str) -> datetime | LineError:
        """The raw date cell read (once per distinct cell), or why it cannot be."""
        found = self.dates.get(raw)
        if found is None:
            found = self.dates[raw] = self._parse_date(raw.strip())
        return found

    def buyer(self, row: Sequence[str]) -> Buyer | _Refused | object:
        """The line's Buyer, ``_NOBODY``, or why its customer cells are refused."""
        key = self.buyer_cells(row)
        found = self.buyers.get(key)
        if found is None:
            found = self.buyers[key] = self._read_buyer(row)
        return found

    def _read_buyer(self, row: Sequence[str]) -> Buyer | _Refused | object:
        try:
            external_id = self.customer_id(row) or None
        except LineError as exc:
            return _Refused(exc, first=True)
        phone, email = self.cell(row, "phone"), self.cell(row, "email")
        if external_id is None and not (phone or email):
            return _NOBODY
        try:
            contacts = self.contacts(phone, email)
            currency = self.currency(row)
            visit = self.visit(row) if "visit" in self.columns else None
        except LineError as exc:
            return _Refused(exc, first=False)
        key = external_id if external_id is not None else f"{contacts[0].kind}:{contacts[0].value}"
        name, country = self.cell(row, "name"), self.cell(row, "country")[:64]
        draft = CustomerDraft(key, external_id, contacts, name[:200], country)
        return Buyer(key, external_id, contacts, name, country, currency, visit, draft)

    def goods(self, row: Sequence[str]) -> tuple[Decimal, dict[str, Any] | None, str]:
        """The line's amount, item and category (raises the line's LineError)."""
        key = self.goods_cells(row)
        found = self.goods_read.get(key)
        if found is None:
            try:
                amount, item = self.amount_and_item(row)
                found = (amount, item, self.cell(row, "category"))
            except LineError as exc:
                found = exc
            self.goods_read[key] = found
        if isinstance(found, LineError):
            raise found
        return found

    def _parse_date(self, raw: str) -> datetime | LineError:
        fmt = self.settings.date_format
        try:
            value = datetime.strptime(raw, fmt) if fmt else datetime.fromisoformat(raw)
        except ValueError:
            expected = fmt or "YYYY-MM-DD HH:MM:SS"
            return self.fail("occurred_at", f"Not a date ({expected}): {raw!r}.")
        if value.tzinfo is None:
            if value < self._long_ago:  # no time zone's offset could bring it near now
                return value.replace(tzinfo=self.settings.time_zone)
            value = value.replace(tzinfo=self.settings.time_zone)
        if value > self.settings.now + FUTURE_SKEW:
            return self.fail("occurred_at", f"The date {raw!r} is in the future.")
        return value

    def currency(self, row: Sequence[str]) -> str:
        if "currency" not in self.columns:
            return ""
        raw = self.cell(row, "currency")
        cached = self._currencies.get(raw)
        if cached is None:
            try:
                cached = check_currency(raw) if raw else ""
            except InvalidInput as exc:
                cached = self.fail("currency", f"{exc.message} Found {raw!r}.")
            self._currencies[raw] = cached
        if isinstance(cached, LineError):
            raise cached
        return cached

    def visit(self, row: Sequence[str]) -> int | None:
        """The visit id of a counter sale the line completes (None without one)."""
        raw = self.cell(row, "visit")
        if not raw:
            return None
        match = _FLOAT_INT.match(raw)
        digits = match.group(1) if match else raw
        if not digits.isdigit() or len(digits) > 18 or int(digits) == 0:
            raise self.fail("visit", f"Not a visit id: {raw!r}.")
        return int(digits)

    def contacts(self, phone: str, email: str) -> tuple[ContactInput, ...]:
        """A row's phone and e-mail cells, normalised. Rows with the same raw contacts
        share one tuple, so grouping a customer's lines compares tuples by identity."""
        if not (phone or email):
            return ()
        cached = self._contacts.get((phone, email))
        if cached is None:
            cached = self._contacts[(phone, email)] = self._parse_contacts(phone, email)
        if isinstance(cached, LineError):
            raise cached
        return cached

    def _parse_contacts(self, phone: str, email: str) -> tuple[ContactInput, ...] | LineError:
        found = []
        for kind, raw in (("phone", phone), ("email", email)):
            if not raw:
                continue
            quick = plain_email(raw) if kind == "email" else _plain_phone(raw)
            try:
                found.append(quick or check_contact(kind, raw, region=self.settings.region))
            except InvalidInput as exc:
                return self.fail(kind, exc.message)
        return tuple(found)

    def amount_and_item(self, row: Sequence[str]) -> tuple[Decimal, dict[str, Any] | None]:
        quantity = self.number(row, "quantity") if "quantity" in self.columns else None
        if "amount" in self.columns:
            amount = self.number(row, "amount")
            price = None
        else:
            assert quantity is not None
            price = self.number(row, "unit_price")
            amount = quantity * price
        sku, name = self.cell(row, "sku"), self.cell(row, "description")
        if not (sku or name):
            return amount, None
        # Lines that read the same share one item: the writer encodes it once. (Raw
        # text in the key: 2.5 and 2.50 are equal Decimals but print differently.)
        key = (sku, name, *(row[i] for i in self._amount_columns))
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = _item(sku, name, quantity, price, amount)
        return amount, item

    def invoice(self, row: Sequence[str]) -> str:
        """The invoice column's value ("" without one, or when the row is too short)."""
        index = self.columns.get("invoice")
        return row[index].strip() if index is not None and index < len(row) else ""

    def line_invoice(self, row: Sequence[str]) -> str:
        """A line's own purchase id: a digest of the row, so the same file (or a later
        export repeating the line) imports it once; a repeated identical row in one file
        is a second purchase, numbered in file order."""
        digest = hashlib.blake2b("\x1f".join(row).encode(), digest_size=10).hexdigest()
        seen = self._seen_rows[digest] = self._seen_rows.get(digest, 0) + 1
        return f"line-{digest}" + (f"-{seen}" if seen > 1 else "")

    def day_invoice(self, customer_key: str, occurred_at: datetime) -> str:
        """One purchase per customer and local day: ``<customer>@<YYYY-MM-DD>``."""
        day = occurred_at.astimezone(self.settings.time_zone).date().isoformat()
        if len(customer_key) + len(day) + 1 > MAX_ID:
            customer_key = hashlib.blake2b(customer_key.encode(), digest_size=16).hexdigest()
        return f"{customer_key}@{day}"

    def day_invoice_of_bad_row(self, row: Sequence[str]) -> str:
        """The customer-day a row that failed to parse belongs to, if that much is legible."""
        try:
            external_id = self.customer_id(row)
            contacts = () if external_id else self.contacts(
                self.cell(row, "phone"), self.cell(row, "email")
            )
            key = external_id or (f"{contacts[0].kind}:{contacts[0].value}" if contacts else "")
            return self.day_invoice(key, self.when(row)) if key else ""
        except LineError:
            return ""


# The cells a line's Buyer and its goods are read from.
BUYER_CELLS = ("customer_id", "phone", "email", "name", "country", "currency", "visit")
GOODS_CELLS = ("quantity", "unit_price", "amount", "sku", "description", "category")


def _cells(columns: dict[str, int], targets: Sequence[str]) -> Callable[[Sequence[str]], Any]:
    """A function giving a row's raw cells of ``targets`` (those mapped) as a dict key."""
    at = [columns[t] for t in targets if t in columns]
    if not at:
        return lambda row: ()
    return operator.itemgetter(*at)


# An everyday address: dot-atom local part, ASCII host names, a top-level domain of
# letters. For these email-validator's verdict is known (valid, and lower case is its
# normal form), and asking it costs ~100 µs an address; anything else still goes to it.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)


def plain_email(raw: str) -> ContactInput | None:
    """The normalised contact for an everyday address, or None to ask the validator."""
    text = raw.strip().lower()
    if len(text) > 254 or not _PLAIN_EMAIL.fullmatch(text):
        return None
    local, _, domain = text.partition("@")
    tld = domain.rsplit(".", 1)[-1]
    special = any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE)
    if len(local) > 64 or len(domain) > 253 or special or tld in _SPECIAL_USE:
        return None
    return ContactInput("email", text)


def _plain_phone(raw: str) -> ContactInput | None:
    e164 = plain_phone(raw)
    return ContactInput("phone", e164) if e164 is not None else None


def _item(
    sku: str, name: str, quantity: Decimal | None, price: Decimal | None, amount: Decimal
) -> dict[str, Any]:
    item: dict[str, Any] = {"sku": sku, "name": name, "quantity": _json_number(quantity or 1)}
    item["unit_price"] = str(price if price is not None else amount)
    if price is None and quantity not in (None, 1):
        item.pop("unit_price")
        item["amount"] = str(amount)
    return item


def _json_number(value: Decimal | int) -> int | str:
    """Quantities are whole numbers almost always; keep a fraction as exact text."""
    return int(value) if value == int(value) else str(value)


@dataclass
class _Collector:
    """Everything the single pass over the file gathers (line numbers per invoice)."""

    groups: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))
    bad: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    cancelled: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    no_customer: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


def read_rows(
    reader: Any,
    columns: dict[str, int],
    header: Sequence[str],
    settings: ParseSettings,
    report: ImportReport,
    tick: Callable[[], None] | None = None,
) -> ParseResult:
    """Read every row of ``reader`` (a csv.reader positioned after the header)."""
    line_reader = _Reader(columns, header, settings)
    seen = _Collector()
    undecodable = settings.undecodable
    rows_read = 0
    end = reader.line_num
    # The everyday line, inlined (a file has hundreds of thousands): an invoice number
    # that is neither a cancellation nor too long, and customer, date and goods cells
    # met before and good (a date is read here the first time too: each invoice has its
    # own). Anything else, and the first sight of customer or goods cells, takes _take_row.
    known = settings.invoice_mode == INVOICE_COLUMN
    width, prefix = line_reader.width, settings.cancel_prefix
    invoice_at = columns.get("invoice", 0)
    buyer_cells, buyers = line_reader.buyer_cells, line_reader.buyers
    goods_cells, goods = line_reader.goods_cells, line_reader.goods_read
    date_at, date = line_reader.date_at, line_reader.date
    groups = seen.groups
    while True:
        try:
            for row in reader:  # resumed here after a row that is not CSV
                start, end = end + 1, reader.line_num
                if not row:
                    continue  # a blank line is no row at all
                rows_read += 1
                if undecodable and not undecodable.keys().isdisjoint(range(start, end + 1)):
                    _take_undecodable(row, start, end, line_reader, seen, report)
                elif not (
                    known
                    and len(row) == width
                    and type(buyer := buyers.get(buyer_cells(row))) is Buyer
                    and type(when := date(row[date_at])) is datetime
                    and type(sold := goods.get(goods_cells(row))) is tuple
                    and (invoice := row[invoice_at].strip())
                    and not invoice.startswith(prefix)
                    and len(invoice) <= MAX_ID
                ):
                    _take_row(row, start, line_reader, seen, report)
                else:
                    groups[invoice].append(Line(start, when, *sold, buyer))
                if tick is not None and rows_read % PROGRESS_EVERY == 0:
                    tick()
            break
        except csv.Error as exc:
            start, end = end + 1, reader.line_num
            rows_read += 1
            report.bad_rows.append(BadRow(start, f"Unreadable CSV: {exc}."))
    report.rows_read += rows_read
    return _decide(seen, report, line_reader)


def _take_undecodable(
    row: list[str], start: int, end: int, reader: _Reader, seen: _Collector, report: ImportReport
) -> None:
    """A row with bytes the encoding could not read: refused, named by its first such line."""
    undecodable = reader.settings.undecodable
    number = min(n for n in range(start, end + 1) if n in undecodable)
    invoice = reader.invoice(row) if reader.settings.invoice_mode == INVOICE_COLUMN else ""
    _bad(report, seen, number, invoice, "", undecodable[number])


def _take_row(
    row: list[str],
    number: int,
    reader: _Reader,
    seen: _Collector,
    report: ImportReport,
) -> None:
    settings = reader.settings
    by_column = settings.invoice_mode == INVOICE_COLUMN
    invoice = reader.invoice(row) if by_column else ""
    if len(row) != reader.width:
        # A cancellation stays a cancellation; any other invoice must not import partly.
        held = "" if invoice.startswith(settings.cancel_prefix) else invoice
        _bad(report, seen, number, held, "", f"Expected {reader.width} columns, found {len(row)}.")
        return
    if by_column:
        if not invoice:
            _bad(report, seen, number, "", reader.column("invoice"),
                 "The invoice number is missing.")
            return
        if invoice.startswith(settings.cancel_prefix):
            seen.cancelled[invoice].append(number)
            return
    try:
        line = _line(row, number, reader)
    except LineError as exc:
        if settings.invoice_mode == INVOICE_CUSTOMER_DAY:
            invoice = reader.day_invoice_of_bad_row(row)
        _bad(report, seen, number, invoice, exc.field, exc.message)
        return
    if line is None:
        seen.no_customer[invoice].append(number)
        return
    if settings.invoice_mode == INVOICE_LINE:
        invoice = reader.line_invoice(row)
    elif settings.invoice_mode == INVOICE_CUSTOMER_DAY:
        invoice = reader.day_invoice(line.buyer.customer_key, line.occurred_at)
    elif len(invoice) > MAX_ID:
        _bad(
            report,
            seen,
            number,
            invoice,
            reader.column("invoice"),
            f"The invoice number is longer than {MAX_ID} characters.",
        )
        return
    seen.groups[invoice].append(line)


def _line(row: list[str], number: int, reader: _Reader) -> Line | None:
    """The parsed line, or None when it names no customer at all. Its errors come in the
    order the cells are read: customer id, date, amounts, contacts, currency, visit."""
    buyer = reader.buyer(row)
    if buyer is _NOBODY:
        return None
    if isinstance(buyer, _Refused) and buyer.first:
        raise buyer.error
    occurred_at = reader.when(row)
    amount, item, category = reader.goods(row)
    if isinstance(buyer, _Refused):
        raise buyer.error
    assert isinstance(buyer, Buyer)
    return Line(number, occurred_at, amount, item, category, buyer)


def _bad(
    report: ImportReport, seen: _Collector, number: int, invoice: str, column: str, message: str
) -> None:
    report.bad_rows.append(BadRow(number, message, column, invoice))
    if invoice:
        seen.bad[invoice].append(number)


def _decide(seen: _Collector, report: ImportReport, reader: _Reader) -> ParseResult:
    """Every invoice either becomes a draft or is held back with its reason; every line
    left out is on the report's list with why."""
    _skipped(seen, report, reader)
    result = ParseResult()
    for invoice in sorted(seen.bad.keys() - seen.groups.keys(), key=lambda i: seen.bad[i][0]):
        report.held_back.append(
            HeldBack(invoice, _bad_reason(seen.bad[invoice]), tuple(seen.bad[invoice]))
        )
    for invoice, lines in seen.groups.items():
        total = sum([ln.amount for ln in lines], Decimal(0))
        buyers = _buyers(lines)
        reason = _hold_reason(invoice, lines, buyers, seen, total)
        if reason:
            numbers = sorted([ln.number for ln in lines] + seen.bad.get(invoice, []))
            report.held_back.append(HeldBack(invoice, reason, tuple(numbers)))
            continue
        draft = _draft(invoice, lines, buyers, total)
        result.invoices.append(draft)
        known = result.customers.get(draft.customer_key)
        described = _customer(buyers)
        result.customers[draft.customer_key] = _merged(known, described) if known else described
    report.held_back.sort(key=lambda h: h.lines[0])
    return result


def _skipped(seen: _Collector, report: ImportReport, reader: _Reader) -> None:
    cancelled = report.skip(CANCELLED)
    cancelled.invoices = len(seen.cancelled)
    cancelled.lines = sum(len(n) for n in seen.cancelled.values())
    no_customer = report.skip(NO_CUSTOMER)
    no_customer.invoices = len(seen.no_customer.keys() - seen.groups.keys() - {""})
    no_customer.lines = sum(len(n) for n in seen.no_customer.values())
    prefix = reader.settings.cancel_prefix
    for invoice, numbers in seen.cancelled.items():
        report.skipped_rows.extend(
            BadRow(n, f"A cancellation (its invoice starts with {prefix!r}): not imported.",
                   reader.column("invoice"), invoice)
            for n in numbers
        )
    who = "customer_id" if "customer_id" in reader.columns else "phone"
    for invoice, numbers in seen.no_customer.items():
        report.skipped_rows.extend(
            BadRow(n, "No customer id, e-mail or phone: not imported.", reader.column(who),
                   invoice)
            for n in numbers
        )


def _bad_reason(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:5]) + (", …" if len(numbers) > 5 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown} could not be read"


def _buyers(lines: list[Line]) -> list[Buyer]:
    """The distinct Buyers of an invoice's lines, in line order (one, almost always)."""
    first = lines[0].buyer
    if all(ln.buyer is first for ln in lines):
        return [first]
    return list({id(ln.buyer): ln.buyer for ln in lines}.values())


def _hold_reason(
    invoice: str, lines: list[Line], buyers: list[Buyer], seen: _Collector, total: Decimal
) -> str:
    if invoice in seen.bad:
        return _bad_reason(seen.bad[invoice])
    if invoice in seen.no_customer:
        return f"{len(seen.no_customer[invoice])} of its lines have no customer id"
    if len(buyers) > 1:
        reason = _mixed_reason(buyers)
        if reason:
            return reason
    if total < 0:
        return f"its total {total} is negative"
    if total >= MAX_AMOUNT:
        return f"its total {total} is too large"
    return ""


def _mixed_reason(buyers: list[Buyer]) -> str:
    """Why lines whose customer cells differ cannot make one purchase ("" if they can)."""
    if len({b.customer_key for b in buyers}) > 1:
        return "its lines name different customers"
    if len({b.currency for b in buyers}) > 1:
        return "its lines are in different currencies"
    if len({b.visit for b in buyers if b.visit is not None}) > 1:
        return "its lines name different visits"
    return ""


def _draft(invoice: str, lines: list[Line], buyers: list[Buyer], total: Decimal) -> InvoiceDraft:
    visit = next((b.visit for b in buyers if b.visit is not None), None)
    return InvoiceDraft(
        invoice=invoice,
        customer_key=buyers[0].customer_key,
        occurred_at=min(ln.occurred_at for ln in lines),
        amount=total.quantize(CENT, rounding=ROUND_HALF_UP),
        items=[ln.item for ln in lines if ln.item is not None],
        categories=list(dict.fromkeys(ln.category for ln in lines if ln.category)),
        lines=len(lines),
        currency=buyers[0].currency,
        visit=visit,
        numbers=tuple(ln.number for ln in lines) if visit is not None else (),
    )


def _merged(first: CustomerDraft, later: CustomerDraft) -> CustomerDraft:
    """What the first invoice said, with blanks filled from a later one."""
    if later is first or later.contacts is first.contacts and (first.name or not later.name) and (
        first.country or not later.country
    ):
        return first  # the usual case: a customer's invoices say the same
    return CustomerDraft(
        key=first.key,
        external_id=first.external_id,
        contacts=_union(first.contacts, later.contacts),
        name=first.name or later.name,
        country=first.country or later.country,
    )


def _union(*groups: tuple[ContactInput, ...]) -> tuple[ContactInput, ...]:
    distinct = list({id(g): g for g in groups}.values())  # rows of one person share a tuple
    if len(distinct) == 1:
        return distinct[0]
    return tuple(dict.fromkeys(c for g in distinct for c in g))


def _customer(buyers: list[Buyer]) -> CustomerDraft:
    """The customer as an invoice's lines describe them (the first line that says so)."""
    if len(buyers) == 1:
        return buyers[0].draft
    return CustomerDraft(
        key=buyers[0].customer_key,
        external_id=buyers[0].external_id,
        contacts=_union(*(b.contacts for b in buyers)),
        name=next((b.name for b in buyers if b.name), "")[:200],
        country=next((b.country for b in buyers if b.country), ""),
    )
