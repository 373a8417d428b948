"""What a purchase's amount and currency must be. Recording one is ``funnel.purchases``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from touchflow.core import currencies
from touchflow.core.errors import InvalidInput


def check_amount(raw: Any) -> Decimal:
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput("amount", f"Not a number: {raw!r}.", "invalid_number") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("amount", "The amount must be zero or more.", "out_of_range")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("amount", "At most two decimal places.", "invalid_number")
    if amount >= Decimal("1e12"):
        raise InvalidInput("amount", "The amount is too large.", "out_of_range")
    return amount


def check_currency(code: str) -> str:
    """The code in capitals if it is a current ISO 4217 currency ("pln" → "PLN");
    three letters that name no currency ("ABC") are refused."""
    code = (code or "").strip().upper()
    if not currencies.is_currency(code):
        raise InvalidInput(
            "currency", "Use an ISO 4217 currency code such as GBP.", "invalid_currency"
        )
    return code
