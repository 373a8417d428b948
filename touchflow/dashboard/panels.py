"""The manager's dashboard as data: each panel a table (the chart draws it, the CSV
export writes it, a cell's link opens what it counts), read from the figures
(``timeline.figures``) — never from the raw tables.

A panel says what it shows and, when there is nothing to show, why: "no visits in this
period" is not the same as "this needs the health check, which has not run".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from touchflow.flows.answers import HAPPY, NEUTRAL, UNHAPPY
from touchflow.flows.models import Flow
from touchflow.health import queries as health
from touchflow.stores.models import Category, Staff
from touchflow.timeline import figures
from touchflow.visits.classification import ContactCapture, VisitClass
from touchflow.visits.models import Reason, ReasonKind

Href = Callable[..., str]  # filters → the link to the list behind a number
Counts = dict[tuple[Any, ...], tuple[int, Decimal]]


@dataclass(frozen=True)
class Period:
    since: date
    until: date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.since - timedelta(days=self.days), self.since - timedelta(days=1))


@dataclass
class Reads:
    """What a page has read so far, shared by all its scopes: the figures — (metric,
    scope) → grouping → its counts: each metric is read once per scope, every grouping
    its panels need in one statement (``_READS``; a page of twenty panels made fifty
    reads of the same rows before) — the stores "every store" means, and the sellers'
    names."""

    figures: dict[tuple[Any, ...], dict[tuple[str, ...], Counts]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    every_store: list[int] | None = None

    def stores(self, stores: frozenset[int] | None) -> Iterable[int]:
        if stores is not None:
            return stores
        if self.every_store is None:
            self.every_store = figures.every_store()
        return self.every_store


@dataclass(frozen=True)
class Scope:
    """What the viewer chose and may see: stores (None: all), a seller (None: all)."""

    stores: frozenset[int] | None
    staff: int | None
    period: Period
    read: Reads = field(default_factory=Reads, compare=False, hash=False, repr=False)
    # What to read of each metric on its first ask (None: what the panels need, _READS).
    reads: Mapping[str, tuple[tuple[str, ...], ...]] | None = field(
        default=None, compare=False, hash=False, repr=False)


@dataclass
class Cell:
    value: float | None
    text: str
    href: str = ""


@dataclass
class Row:
    label: str
    cells: list[Cell]
    href: str = ""


@dataclass
class Column:
    label: str
    muted: bool = False  # drawn grey: the "grey" visits, a seller's miss
    drawn: bool = True  # False: in the table only (a share beside its count)


@dataclass
class Panel:
    key: str
    title: str
    chart: str  # bar, hbar, line, pie ("" : a table only)
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    stacked: bool = False
    percent: bool = False
    note: str = ""
    missing: str = ""  # why there is no data at all, when it is not "none in this period"
    nothing: str = ""  # what an all-zero panel says ("" : nothing in this period)

    @property
    def empty(self) -> bool:
        return not any(c.value for r in self.rows for c in r.cells)


def _everyone(scope: Scope) -> Scope:
    """The same stores and period for every seller: what a chain or a manager did is
    nobody's own figure."""
    return Scope(scope.stores, None, scope.period, scope.read, scope.reads)


# What the panels read of each metric, grouped how (the columns a panel groups by and
# those it narrows by): every grouping of a metric is read in one statement, on the
# first ask. A grouping not listed is read on its own when asked — right, but slower.
_READS: dict[str, tuple[tuple[str, ...], ...]] = {
    "visit": (("staff_id", "k1"), ("staff_id", "k2"), ("staff_id", "k3"), ("k2", "k4"),
              ("k1",), ("k2",), ()),
    "touch": (("k1", "k4"), ("k3", "k4"), ("k4",)),
    "reply": (("k1",), ("k3",)),
    "stop": (("k1",), ("k3",)),
    "purchase": (("k1", "k2", "k3"),),
    "check_in": (("staff_id", "k1"), ("store_id", "k1"), ("k1",)),
    "check_in_category": (("k1", "k2"),),
    "escalation_resolved": (("k2",),),
    "effort": (("k1", "k2", "staff_id"),),
}


# What the headlines read of the period before: theirs only, not every panel's.
_HEADLINE_READS: dict[str, tuple[tuple[str, ...], ...]] = {
    "visit": (("k1",), ("k2",), ()),
    "touch": (("k4",),),
    "check_in": (("k1",),),
}


def _count(scope: Scope, metric: str, by: Sequence[str], **keys: str) -> Counts:
    if "day" in by or figures.WEEK in by:
        return figures.totals(metric, stores=scope.read.stores(scope.stores),
                              since=scope.period.since, until=scope.period.until, by=by,
                              staff=scope.staff, **keys)
    grouping = tuple(sorted({*by, *keys}))
    read = scope.read.figures.setdefault((metric, scope.stores, scope.staff, scope.period), {})
    if grouping not in read:
        sets = [tuple(sorted(one)) for one in (scope.reads or _READS).get(metric, ())]
        wanted = [grouping] + [one for one in sets if one not in read and one != grouping]
        read.update(figures.grouped(metric, stores=scope.read.stores(scope.stores),
                                    since=scope.period.since,
                                    until=scope.period.until, sets=wanted,
                                    staff=scope.staff))
    if not keys and list(by) == list(grouping):
        return read[grouping]
    spots = [grouping.index(column) for column in by]
    wanted_values = [(grouping.index(column), value) for column, value in keys.items()]
    result: dict[tuple[Any, ...], list[Any]] = {}
    for full, (n, amount) in read[grouping].items():
        if all(full[i] == value for i, value in wanted_values):
            total = result.setdefault(tuple(full[i] for i in spots), [0, Decimal(0)])
            total[0] += n
            total[1] += amount
    return {k: (n, amount) for k, (n, amount) in result.items()}


def _names(scope: Scope, staff_ids: Iterable[int]) -> dict[int, str]:
    """The sellers' names, each read once a page (four panels name the same sellers)."""
    known = scope.read.names
    rows = Staff.objects.filter(pk__in=[s for s in staff_ids if s and s not in known]
                                ).values_list("pk", "first_name", "last_name", "username")
    known.update({pk: f"{first} {last}".strip() or user for pk, first, last, user in rows})
    return known


def _sellers(counts: dict[tuple[Any, ...], tuple[int, Decimal]]) -> list[int]:
    """The staff ids of counts keyed (staff, …), "no seller" (0) last."""
    return sorted({key[0] for key in counts}, key=lambda s: (s == 0, s))


def _number(n: float | None) -> str:
    return "" if n is None else f"{n:,.0f}".replace(",", "\u202f")


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 1)


def visits_by_type(scope: Scope, href: Href) -> Panel:
    counts = _count(scope, "visit", ["staff_id", "k1"])
    classes = list(VisitClass)
    sellers = _sellers(counts)
    names = _names(scope, sellers)
    panel = Panel("visits", _("Visits by type, per seller"), "bar", stacked=True,
                  columns=[Column(str(c.label), muted=c == VisitClass.GREY) for c in classes],
                  note=_("Grey: the seller did not ask for contacts."))
    for seller in sellers:
        cells = [Cell(n, _number(n), href(seller=seller, visit_class=c.value))
                 for c in classes for n in [counts.get((seller, c.value), (0, 0))[0]]]
        panel.rows.append(Row(names.get(seller, _("No seller")), cells, href(seller=seller)))
    return panel


def contact_capture(scope: Scope, href: Href) -> Panel:
    counts = _count(scope, "visit", ["staff_id", "k2"])
    sellers = _sellers(counts)
    names = _names(scope, sellers)
    captures = list(ContactCapture)
    panel = Panel("capture", _("Contacts asked for and taken, per seller"), "hbar",
                  stacked=True, percent=True,
                  columns=[Column(str(c.label), muted=c == ContactCapture.NOT_ATTEMPTED)
                           for c in captures],
                  note=_("Share of each seller's visits, in per cent."))
    for seller in sellers:
        whole = sum(counts.get((seller, c.value), (0, 0))[0] for c in captures)
        cells = []
        for capture in captures:
            share = _share(counts.get((seller, capture.value), (0, 0))[0], whole)
            cells.append(Cell(share, "" if share is None else f"{share:g} %",
                              href(seller=seller, capture=capture.value)))
        panel.rows.append(Row(names.get(seller, _("No seller")), cells, href(seller=seller)))
    return panel


def reasons(scope: Scope, href: Href, language: str) -> Panel:
    counts = _count(scope, "visit", ["staff_id", "k3"])
    listed = list(Reason.objects.order_by("kind", "position", "code"))
    used = [r for r in listed if any(code == r.code for _s, code in counts)]
    sellers = _sellers({k: v for k, v in counts.items() if k[1]})
    names = _names(scope, sellers)
    columns = [Column(f"{r.label(language)} ({_kind(r.kind)})") for r in used]
    panel = Panel("reasons", _("Why people left without buying, per seller"), "hbar",
                  stacked=True, columns=columns,
                  note=_("For coaching: objective reasons first, then the seller's own "
                         "(too pushy, too passive, …)."))
    for seller in sellers:
        cells = [Cell(n, _number(n), href(seller=seller, reason=r.code))
                 for r in used for n in [counts.get((seller, r.code), (0, 0))[0]]]
        panel.rows.append(Row(names.get(seller, _("No seller")), cells, href(seller=seller)))
    return panel


def _kind(kind: str) -> str:
    return str(ReasonKind(kind).label) if kind in ReasonKind.values else kind


TOUCH_OUTCOMES = (
    ("sent", gettext_lazy("Sent")),
    ("delivered", gettext_lazy("Delivered")),
    ("read", gettext_lazy("Read")),
    ("dead", gettext_lazy("Failed for good")),
    ("expired", gettext_lazy("Expired")),
    ("call_logged", gettext_lazy("Calls made")),
)


def outcomes_by_chain(scope: Scope, href: Callable[[str], str]) -> Panel:
    """Per chain: what its messages became, and the replies and STOPs that answered
    them (credited to the chain whose message came last, ``delivery.credit``).
    ``href(chain)``: the customers in that chain."""
    everyone = _everyone(scope)
    by_chain = _count(everyone, "touch", ["k1", "k4"])
    replies = _count(everyone, "reply", ["k1"])
    stops = _count(everyone, "stop", ["k1"])
    names = dict(Flow.objects.values_list("slug", "name"))
    chains = sorted({chain for chain, _o in by_chain} | {c for (c,) in replies if c}
                    | {c for (c,) in stops if c}, key=lambda s: names.get(s, s))
    panel = Panel("chains", _("Messages per chain"), "bar",
                  columns=[*(Column(str(label)) for _o, label in TOUCH_OUTCOMES),
                           Column(_("Replies")), Column(_("Opted out"))],
                  note=_("Delivered and read as the providers report them. A reply or a "
                         "STOP counts for the chain whose message came last in the week "
                         "before it."))
    for chain in chains:
        if not chain:
            continue
        cells = [Cell(n, _number(n), href(chain)) for outcome, _l in TOUCH_OUTCOMES
                 for n in [by_chain.get((chain, outcome), (0, 0))[0]]]
        cells += [Cell(n, _number(n), href(chain)) for n in (
            replies.get((chain,), (0, 0))[0], stops.get((chain,), (0, 0))[0])]
        panel.rows.append(Row(names.get(chain, chain), cells, href(chain)))
    return panel


def funnel(scope: Scope, href: Href) -> Panel:
    """Lead → contact → return visit → purchase, as counts in the period (each stage
    counted on its own; not one group of people followed through)."""
    visits = _count(scope, "visit", ["k2", "k4"])
    leads = sum(n for n, _a in visits.values())
    taken = sum(n for (capture, _r), (n, _a) in visits.items()
                if capture == ContactCapture.TAKEN.value)
    returns = sum(n for (_c, again), (n, _a) in visits.items() if again == "return")
    sales = sum(n for n, _a in _count(scope, "visit_sale", []).values())
    panel = Panel("funnel", _("From a visit to a purchase"), "hbar",
                  columns=[Column(_("Number")), Column(_("Of visits, per cent"), drawn=False)],
                  note=_("Visits in the period: all of them; those where contacts were "
                         "taken; those by customers who had visited the store before; those "
                         "that ended in a purchase. Revenue: sales credited to chains."))
    stages = ((_("Visits"), leads, href()),
              (_("Contacts taken"), taken, href(capture=ContactCapture.TAKEN.value)),
              (_("Return visits"), returns, href(again="return")),
              (_("Visits that ended in a purchase"), sales, href(bought="1")))
    for label, n, link in stages:
        share = _share(n, leads)
        panel.rows.append(Row(label, [Cell(n, _number(n), link),
                                      Cell(share, "" if share is None else f"{share:g}")], link))
    return panel


def revenue(scope: Scope, windows: Sequence[int]) -> Panel:
    """Sales and revenue per chain and step they are credited to (last touch within
    the store's window, decided when the sale was recorded: ``delivery.credit``), per
    currency; sales no chain's message preceded, last."""
    sales = _count(_everyone(scope), "purchase", ["k2", "k3", "k1"])
    currencies = sorted({currency for _f, _s, currency in sales if currency})
    names = dict(Flow.objects.values_list("slug", "name"))
    days = ", ".join(str(d) for d in sorted(set(windows))) or "14"
    panel = Panel("revenue", _("Sales credited to chains"), "hbar",
                  columns=[Column(_("Sales"), drawn=False),
                           *(Column(_("Revenue, %(currency)s") % {"currency": c})
                             for c in currencies)],
                  note=_("Last touch: a sale counts for the chain and step whose message "
                         "the customer got last within %(days)s days before buying (the "
                         "store's setting), as decided when the sale was recorded.")
                  % {"days": days})
    pairs = sorted({(flow, step) for flow, step, _c in sales},
                   key=lambda p: (not p[0], names.get(p[0], p[0]), p[1]))
    for flow, step in pairs:
        n = sum(v[0] for (f, s, _c), v in sales.items() if (f, s) == (flow, step))
        cells = [Cell(n, _number(n))]
        for currency in currencies:
            amount = sales.get((flow, step, currency), (0, Decimal(0)))[1]
            cells.append(Cell(float(amount), _number(float(amount))))
        label = (f"{names.get(flow, flow)} · {step}" if flow
                 else _("No chain's message before the sale"))
        panel.rows.append(Row(label, cells))
    return panel


def outcomes_by_channel(scope: Scope) -> Panel:
    everyone = _everyone(scope)
    touches = _count(everyone, "touch", ["k3", "k4"])
    replies = _count(everyone, "reply", ["k3"])
    stops = _count(everyone, "stop", ["k3"])
    channels = sorted({c for c, _o in touches} | {c for (c,) in replies} | {c for (c,) in stops})
    columns = [Column(str(label)) for o, label in TOUCH_OUTCOMES if o != "call_logged"]
    panel = Panel("channels", _("Messages per channel"), "bar",
                  columns=[*columns, Column(_("Replies")), Column(_("Opted out"))])
    for channel in channels:
        if not channel:
            continue
        cells = [Cell(n, _number(n)) for outcome, _l in TOUCH_OUTCOMES
                 if outcome != "call_logged"
                 for n in [touches.get((channel, outcome), (0, 0))[0]]]
        cells += [Cell(n, _number(n)) for n in (replies.get((channel,), (0, 0))[0],
                                                stops.get((channel,), (0, 0))[0])]
        panel.rows.append(Row(channel, cells))
    return panel


MOODS = ((HAPPY, gettext_lazy("Happy")), (NEUTRAL, gettext_lazy("Neither")),
         (UNHAPPY, gettext_lazy("Unhappy")))


def check_ins(scope: Scope) -> Panel:
    counts = _count(scope, "check_in", ["staff_id", "k1"])
    sellers = _sellers(counts)
    names = _names(scope, sellers)
    panel = Panel("check_ins", _("Answers to check-ins, per seller"), "hbar", stacked=True,
                  columns=[Column(str(label), muted=mood == NEUTRAL) for mood, label in MOODS],
                  note=_("The seller who served the customer; an answer changed later "
                         "counts again."))
    for seller in sellers:
        cells = [Cell(n, _number(n)) for mood, _l in MOODS
                 for n in [counts.get((seller, mood), (0, 0))[0]]]
        panel.rows.append(Row(names.get(seller, _("No seller")), cells))
    return panel


def check_ins_by_store(scope: Scope, store_names: Mapping[int, str]) -> Panel:
    counts = _count(scope, "check_in", ["store_id", "k1"])
    stores = sorted({store for store, _m in counts}, key=lambda s: store_names.get(s, ""))
    panel = Panel("satisfaction_stores", _("Answers to check-ins, per store"), "hbar",
                  stacked=True, columns=[Column(str(label), muted=mood == NEUTRAL)
                                         for mood, label in MOODS])
    for store in stores:
        cells = [Cell(n, _number(n)) for mood, _l in MOODS
                 for n in [counts.get((store, mood), (0, 0))[0]]]
        panel.rows.append(Row(store_names.get(store, str(store)), cells))
    return panel


def check_ins_by_category(scope: Scope, language: str) -> Panel:
    counts = _count(scope, "check_in_category", ["k2", "k1"])
    labels = {c.slug: c.label(language) for c in Category.objects.all()}
    slugs = sorted({slug for slug, _m in counts}, key=lambda s: labels.get(s, s))
    panel = Panel("satisfaction_categories", _("Answers to check-ins, per category"), "hbar",
                  stacked=True, columns=[Column(str(label), muted=mood == NEUTRAL)
                                         for mood, label in MOODS],
                  note=_("A purchase in several categories counts in each."))
    for slug in slugs:
        cells = [Cell(n, _number(n)) for mood, _l in MOODS
                 for n in [counts.get((slug, mood), (0, 0))[0]]]
        panel.rows.append(Row(labels.get(slug, slug), cells))
    return panel


def aftercare(scope: Scope) -> Panel:
    everyone = _everyone(scope)
    opened = sum(n for n, _a in _count(everyone, "escalation_opened", []).values())
    resolved = _count(everyone, "escalation_resolved", ["k2"])
    done = sum(n for n, _a in resolved.values())
    late = resolved.get(("1",), (0, Decimal(0)))[0]
    minutes = sum(a for _n, a in resolved.values())
    referrals = sum(n for n, _a in _count(everyone, "referral_made", []).values())
    reviews = sum(n for n, _a in _count(everyone, "review_click", []).values())
    average = round(float(minutes) / done / 60, 1) if done else None
    panel = Panel("aftercare", _("Unhappy customers, referrals and reviews"), "",
                  columns=[Column(_("Number"))])
    for label, value, text in (
        (_("Escalations opened"), opened, _number(opened)),
        (_("Escalations resolved"), done, _number(done)),
        (_("Resolved late"), late, _number(late)),
        (_("Working hours to resolve, on average"), average,
         "" if average is None else f"{average:g}"),
        (_("Customers brought by a referral"), referrals, _number(referrals)),
        (_("Review links opened"), reviews, _number(reviews)),
    ):
        panel.rows.append(Row(label, [Cell(value, text)]))
    return panel


EFFORT = (("call", "buyer", gettext_lazy("Calls to buyers")),
          ("call", "prospect", gettext_lazy("Calls to prospects")),
          ("reply", "buyer", gettext_lazy("Replies to buyers")),
          ("reply", "prospect", gettext_lazy("Replies to prospects")))


def effort(scope: Scope, targets: Mapping[int, int]) -> Panel:
    """The 20% rule, per member of staff: calls made and replies written to customers
    who had bought at the store against prospects, the minutes logged on each, and the
    share that went to buyers beside the target (``targets``: store id → per cent)."""
    counts = _count(scope, "effort", ["staff_id", "k1", "k2"])
    target = _target(scope, targets)
    panel = Panel("effort", _("Effort on those who bought (the 20 per cent rule)"), "",
                  columns=[*(Column(str(label)) for _w, _h, label in EFFORT),
                           Column(_("Minutes on buyers")), Column(_("Minutes on prospects")),
                           Column(_("Share on buyers, per cent")),
                           Column(_("Share of minutes on buyers, per cent")),
                           Column(_("Target, per cent"), muted=True)],
                  note=_target_note(targets),
                  nothing=_("No calls logged and no replies written in this period."))
    sellers = _sellers({k: v for k, v in counts.items() if k[2]})
    names = _names(scope, sellers)
    by_seller: dict[int, dict[tuple[str, str], tuple[int, Decimal]]] = {}
    for (seller, what, whom), value in counts.items():
        by_seller.setdefault(seller, {})[(what, whom)] = value
    for seller in sellers:
        mine = by_seller[seller]
        cells = [Cell(n, _number(n)) for what, whom, _l in EFFORT
                 for n in [mine.get((what, whom), (0, 0))[0]]]
        minutes = {whom: sum(float(a) for (_w, h), (_n, a) in mine.items() if h == whom)
                   for whom in ("buyer", "prospect")}
        cells += [Cell(minutes[w], _number(minutes[w])) for w in ("buyer", "prospect")]
        cells += [_percent(_on_buyers(mine)),
                  _percent(_share(int(minutes["buyer"]),
                                  int(minutes["buyer"] + minutes["prospect"]))),
                  _percent(target)]
        panel.rows.append(Row(names.get(seller, _("No seller")), cells))
    return panel


def effort_by_week(scope: Scope, targets: Mapping[int, int], store_names: Mapping[int, str]
                   ) -> Panel:
    """The share of calls and replies that went to buyers, per store and week (weeks
    from Monday; the first and last may be cut by the period)."""
    counts = _count(scope, "effort", [figures.WEEK, "store_id", "k2"])
    stores = sorted({store for _w, store, whom in counts if whom},
                    key=lambda s: store_names.get(s, ""))
    panel = Panel("effort_weeks", _("Share of effort on buyers, per store and week"), "line",
                  percent=True,
                  columns=[Column(store_names.get(s, str(s))) for s in stores],
                  note=_target_note(targets),
                  nothing=_("No calls logged and no replies written in this period."))
    weeks: dict[date, dict[int, dict[str, int]]] = {}
    for (monday, store, whom), (n, _a) in counts.items():
        if not whom:
            continue
        tally = weeks.setdefault(_as_date(monday), {}).setdefault(store, {})
        tally[whom] = tally.get(whom, 0) + n
    for week in sorted(weeks):
        cells = [_percent(_share(t.get("buyer", 0), t.get("buyer", 0) + t.get("prospect", 0)))
                 for store in stores for t in [weeks[week].get(store, {})]]
        panel.rows.append(Row(week.isoformat(), cells))
    return panel


def _as_date(day: Any) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def _on_buyers(mine: Mapping[tuple[str, str], tuple[int, Decimal]]) -> float | None:
    buyers = sum(n for (_w, whom), (n, _a) in mine.items() if whom == "buyer")
    known = sum(n for (_w, whom), (n, _a) in mine.items() if whom)
    return _share(buyers, known)


def _percent(value: float | int | None) -> Cell:
    return Cell(value, "" if value is None else f"{value:g}")


def _target(scope: Scope, targets: Mapping[int, int]) -> int | None:
    """The target of the stores in view, when they agree on one."""
    shown = {t for s, t in targets.items() if scope.stores is None or s in scope.stores}
    return shown.pop() if len(shown) == 1 else None


def _target_note(targets: Mapping[int, int]) -> str:
    values = ", ".join(sorted({f"{t:g}" for t in targets.values()})) or "20"
    return _("Target: %(target)s per cent of calls and replies on customers who have "
             "bought at the store (each store sets its own). Minutes: as logged on call "
             "tasks.") % {"target": values}


@dataclass
class Headline:
    label: str
    now: float | None
    before: float | None
    unit: str = ""

    @property
    def change(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return round(self.now - self.before, 1)


def headlines(scope: Scope, *, own_only: bool = False) -> list[Headline]:
    """This period against the one before, in a handful of numbers (a salesperson's
    own: without the store's messages)."""
    before = Scope(scope.stores, scope.staff, scope.period.previous(), scope.read,
                   _HEADLINE_READS)

    def headline(label: str, measure: Callable[[Scope], float | None], unit: str = ""
                 ) -> Headline:
        return Headline(label, measure(scope), measure(before), unit)

    shown = [
        headline(_("Visits"), _visits),
        headline(_("Contacts taken"), _taken_share, "%"),
        headline(_("Grey visits (not asked)"), _grey_share, "%"),
        headline(_("Happy answers"), _happy_share, "%"),
    ]
    return shown if own_only else [*shown[:3], headline(_("Messages sent"), _sent), shown[3]]


def _visits(scope: Scope) -> float:
    return sum(n for n, _a in _count(scope, "visit", []).values())


def _taken_share(scope: Scope) -> float | None:
    counts = _count(scope, "visit", ["k2"])
    whole = sum(n for n, _a in counts.values())
    return _share(counts.get((ContactCapture.TAKEN.value,), (0, 0))[0], whole)


def _grey_share(scope: Scope) -> float | None:
    counts = _count(scope, "visit", ["k1"])
    whole = sum(n for n, _a in counts.values())
    return _share(counts.get((VisitClass.GREY.value,), (0, 0))[0], whole)


def _sent(scope: Scope) -> float:
    return sum(n for n, _a in _count(_everyone(scope), "touch", [], k4="sent").values())


def _happy_share(scope: Scope) -> float | None:
    counts = _count(scope, "check_in", ["k1"])
    whole = sum(n for n, _a in counts.values())
    return _share(counts.get((HAPPY,), (0, 0))[0], whole)


def going_cold(stores: frozenset[int] | None, href: Callable[[int, str], str]) -> Panel:
    """Per store, how many buyers and prospects the daily health check found going
    cold (as of its last run: a snapshot, not a figure of the period)."""
    fits = list(health.fits(stores))
    panel = Panel("cold", _("Customers going cold"), "hbar", stacked=False,
                  columns=[Column(_("Buyers going cold")), Column(_("Prospects going cold"))],
                  note=_("As of the last daily check, whatever the period."),
                  nothing=_("Nobody is going cold, as of the last daily check."))
    if not any(f.as_of for f in fits):
        panel.missing = _("The daily relationship check has not run for these stores yet.")
        return panel
    for fit in fits:
        if fit.as_of is None:
            continue
        cells = [Cell(fit.cold_buyers, _number(fit.cold_buyers), href(fit.store_id, "buyers")),
                 Cell(fit.cold_prospects, _number(fit.cold_prospects),
                      href(fit.store_id, "prospects"))]
        panel.rows.append(Row(fit.store.name, cells, href(fit.store_id, "buyers")))
    return panel
