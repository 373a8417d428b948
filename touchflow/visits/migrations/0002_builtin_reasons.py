"""The reasons every business starts with (SPEC §1: objective reasons and seller errors)."""

from __future__ import annotations

from django.db import migrations

BUILTIN = [
    # code, kind, position, en, ru, pl
    ("credit_refused", "objective", 10, "Credit refused", "Отказали в кредите", "Odmowa kredytu"),
    ("price_difference", "objective", 20, "Price difference", "Разница в цене", "Różnica w cenie"),
    ("just_looking", "objective", 30, "Just looking", "Просто смотрит", "Tylko ogląda"),
    ("too_pushy", "seller_error", 10, "Too pushy", "Слишком напористо", "Zbyt nachalnie"),
    ("too_passive", "seller_error", 20, "Too passive", "Слишком пассивно", "Zbyt biernie"),
    ("wrong_sales_tool", "seller_error", 30, "Wrong sales tool", "Не тот инструмент продаж",
     "Złe narzędzie sprzedaży"),
    ("weak_product_knowledge", "seller_error", 40, "Weak product knowledge",
     "Слабое знание товара", "Słaba znajomość produktu"),
]


def add(apps, schema_editor):
    Reason = apps.get_model("visits", "Reason")
    for code, kind, position, en, ru, pl in BUILTIN:
        Reason.objects.update_or_create(
            code=code,
            defaults={"kind": kind, "position": position, "label_en": en, "label_ru": ru,
                      "label_pl": pl, "builtin": True, "active": True},
        )


def remove(apps, schema_editor):
    apps.get_model("visits", "Reason").objects.filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
