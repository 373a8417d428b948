"""The app with its rollups switched off — the "B" of ``python -m bench rollups``.

Issue 11: keeping the figures current may cost at most 10 % of the visit API's and of
dispatch's throughput, measured side by side. The only difference between the two sides
is what this module switches off, in the process that serves or sends:

- ``timeline.figures.record`` / ``record_times`` / ``record_events``: the counts written
  with every timeline row and visit (``FigureDelta``), and the fold that moves them;
- ``funnel.visits.seen_before``: the one read a visit makes only for its figure (was
  the customer here before — the funnel's "return visit").

``python -m bench.without_rollups ARGS`` runs ``touchflow ARGS`` so (the worker);
``bench.wsgi_without_rollups:application`` is the WSGI application so (gunicorn).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def switch_off(put: Callable[[Any, str, Any], None] = setattr) -> None:
    """``put``: how a name is replaced (a test passes its monkeypatch's, to undo it)."""
    from touchflow.funnel import visits
    from touchflow.timeline import figures

    def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    for name in ("record", "record_times", "record_events"):
        put(figures, name, nothing)
    put(figures, "fold", lambda: 0)
    put(visits, "seen_before", lambda _visit: False)


if __name__ == "__main__":
    from touchflow.cli import build_app, setup_django

    setup_django()
    switch_off()
    sys.argv = ["touchflow", *sys.argv[1:]]
    build_app()()
