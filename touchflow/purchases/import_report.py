"""What a purchase import did: the typed report the CLI prints and tests assert on."""

from __future__ import annotations

from dataclasses import dataclass, field

# Reasons a line or an invoice was skipped on purpose (not an error in the file).
CANCELLED = "cancelled"
NO_CUSTOMER = "no_customer"
ALREADY_IMPORTED = "already_imported"


@dataclass(frozen=True)
class BadRow:
    """A line that could not be read. ``line`` is the physical line; the header is line 1."""

    line: int
    message: str
    column: str = ""
    invoice: str = ""

    def __str__(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        return f"line {self.line}{where}: {self.message}"


@dataclass(frozen=True)
class HeldBack:
    """An invoice not imported at all, because importing part of it would be wrong."""

    invoice: str
    reason: str
    lines: tuple[int, ...]


@dataclass
class SkipCount:
    lines: int = 0
    invoices: int = 0


@dataclass
class ImportReport:
    """Counts of everything read, imported and left out, and why."""

    rows_read: int = 0
    lines_imported: int = 0
    invoices_imported: int = 0
    customers_created: int = 0
    customers_existing: int = 0
    skipped: dict[str, SkipCount] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    held_back: list[HeldBack] = field(default_factory=list)
    # Lines left out on purpose (cancellations, no customer), each with why.
    skipped_rows: list[BadRow] = field(default_factory=list)

    def skip(self, reason: str) -> SkipCount:
        return self.skipped.setdefault(reason, SkipCount())

    @property
    def invoices_held_back(self) -> int:
        return len(self.held_back)

    def refused(self) -> list[BadRow]:
        """Every line that was read and not imported, by line number, each with why:
        bad rows, the other lines of held-back invoices, skipped lines. (Lines already
        imported by an earlier run are not refused: they are in.)"""
        bad = {b.line for b in self.bad_rows}
        held = [
            BadRow(n, f"Not imported: its invoice is held back ({h.reason}).", "", h.invoice)
            for h in self.held_back
            for n in h.lines
            if n not in bad
        ]
        return sorted([*self.bad_rows, *held, *self.skipped_rows], key=lambda r: r.line)
