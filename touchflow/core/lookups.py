"""``field__any=[…]``: membership in a list as one array parameter on PostgreSQL.

``__in`` sends one placeholder per element; psycopg parses a query of 500
placeholders in Python on every execution (a few milliseconds a dispatcher round).
``= ANY(%s)`` sends the list as one array. SQLite gets the plain ``IN``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        field = self.lhs.output_field
        return [field.get_prep_value(v) for v in self.rhs]

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


def register() -> None:
    for field in (models.IntegerField, models.BigIntegerField, models.AutoField,
                  models.BigAutoField, models.ForeignKey):
        field.register_lookup(AnyOf)
