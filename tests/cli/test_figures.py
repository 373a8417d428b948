"""``touchflow figures``: fold and recount by hand."""

from __future__ import annotations

from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline import figures
from touchflow.timeline.models import Figure, FigureDelta, FigureMonth, FigureWeek, FigureYear


def test_fold_then_rebuild_keep_the_same_counts(store: Store, salesperson: Staff) -> None:
    for capture in ("not_attempted", "refused"):
        log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=False,
                  contact_capture=capture, reason="just_looking")
    kept = figures.snapshot()
    folded = CliRunner().invoke(build_app(), ["figures", "fold"])
    assert folded.exit_code == 0, folded.output
    assert folded.output.strip() == "Folded 2 counts."
    assert not FigureDelta.objects.exists() and figures.snapshot() == kept
    Figure.objects.all().delete()  # lost: the recount brings them back
    rebuilt = CliRunner().invoke(build_app(), ["figures", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("Recounted 2 events and visits in ")
    assert figures.snapshot() == kept


def test_rollups_add_the_days_up_again(store: Store, salesperson: Staff) -> None:
    log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=False,
              contact_capture="refused", reason="just_looking")
    figures.fold()
    FigureMonth.objects.update(n=99)  # rollups gone wrong
    FigureWeek.objects.all().delete()
    FigureYear.objects.update(n=0)
    made = CliRunner().invoke(build_app(), ["figures", "rollups"])
    assert made.exit_code == 0, made.output
    assert made.output.startswith("Weekly, monthly and yearly figures made again in ")
    month, week, year = (FigureMonth.objects.get(), FigureWeek.objects.get(),
                         FigureYear.objects.get())
    assert (month.n, month.day.day, month.metric) == (1, 1, "visit")
    assert (week.n, week.day.weekday(), week.metric) == (1, 0, "visit")
    assert (year.n, year.day.month, year.day.day) == (1, 1, 1)
