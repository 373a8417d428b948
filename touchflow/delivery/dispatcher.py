"""The dispatcher: a short orchestrator of the delivery stages.

claim → context (``batch``) → judge (``policies.judge``, under the customer's lock) →
send (``sending``, many in flight) → record (``recording``). Every state a touch moves
to is built by ``transitions``. A worker keeps up to ``concurrency`` requests in
flight; as each answer comes back it is recorded (in the set of answers that came back
meanwhile), and the freed room is filled from the touches claimed. Leases are renewed
while touches wait or are in flight.

``run_round`` (tests, ``worker --once``) claims one batch and sees it through;
``run_forever`` (the worker) claims whenever room frees up, so the window never waits
for the slowest request of a batch.
"""

from __future__ import annotations

import logging
import os
import socket
import time as walltime
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from touchflow.core import clock
from touchflow.delivery import batch as context
from touchflow.delivery import queries, readiness, recording, transitions
from touchflow.delivery.batch import Fresh
from touchflow.delivery.channels.base import (
    Channel,
    SendResult,
)
from touchflow.delivery.due import Due
from touchflow.delivery.judging import Judge, Known
from touchflow.delivery.metrics import Metrics
from touchflow.delivery.models import TouchState
from touchflow.delivery.policies import (
    NO_CHANNEL,
    Recent,
)
from touchflow.delivery.ratelimit import RateLimiter
from touchflow.delivery.retry import RetryPolicy
from touchflow.delivery.sending import Flight, InFlight
from touchflow.delivery.transitions import Outcome, Reason

log = logging.getLogger(__name__)

# Seconds of waiting for a route's turn past which a round hands its touches back.
LONG_WAIT = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RoundStats:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Touches that wait because their store has none of their step's channels, and
    # which channels each store lacks.
    waiting: int = 0
    missing: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, other: RoundStats) -> None:
        self.claimed += other.claimed
        for key, value in other.outcomes.items():
            self.outcomes[key] += value
        self.waiting += other.waiting
        for store, names in other.missing.items():
            self.missing[store] |= names

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome.update.state] += 1
        if outcome.update.state == TouchState.QUEUED and outcome.update.reason == NO_CHANNEL:
            self.waiting += 1
            self.missing[outcome.touch.store.slug].update(outcome.touch.step.channels)


@dataclass
class _Admitted:
    """What judging a group decided: flights to start (those ``marked`` in flight),
    touches waiting for their route's turn, and outcomes to write."""

    flights: list[Flight] = field(default_factory=list)
    marked: set[int] = field(default_factory=set)
    waiting: list[Due] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        owner: str | None = None,
        batch_size: int = 500,
        lease: timedelta = timedelta(minutes=2),
        retry: RetryPolicy | None = None,
        now: Callable[[], datetime] = clock.now,
        monotonic: Callable[[], float] = walltime.monotonic,
        concurrency: int = 200,
        per_route: int = 200,
        limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        tick: float = 0.02,
        grace: float = 5.0,
    ) -> None:
        self.channels = dict(channels)
        self.owner = owner or worker_name()
        self.batch_size = batch_size
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.now = now
        self.monotonic = monotonic
        self.limiter = limiter
        self.metrics = metrics
        self.tick = tick
        self.grace = grace
        self._pending: list[Due] = []
        self._outcomes: list[Outcome] = []
        self._known = Known()
        self._shared = context.Shared(monotonic=monotonic)
        self.judge = Judge(self.channels, self._known)
        self._flights = InFlight(concurrency, per_route)
        self._renewed = monotonic()
        # The route each waiting touch was last judged for, and routes out of room or
        # rate until a moment (monotonic): their touches are not judged again before.
        self._route_of: dict[int, str] = {}
        self._blocked: dict[str, float] = {}
        self._rate_wait_since: dict[int, float] = {}
        # Routes' rates as last judged, and grants taken for the group being judged.
        self._route_rate: dict[str, float] = {}
        self._granted: dict[str, int] = {}

    # -- the loops ----------------------------------------------------------------------

    def run_round(self) -> RoundStats:
        """Claim one batch and see every touch of it to an outcome."""
        stats = RoundStats(claimed=self._claim(self.batch_size))
        while self._pending or len(self._flights) or self._outcomes:
            self._step(stats)
            if not len(self._flights) and not self._outcomes:
                self._hand_back_long_waits()
        if stats.waiting:
            # Once a round, not once a touch: what the deployment lacks, not the customers.
            log.warning(readiness.waiting_summary(stats.waiting, stats.missing))
        return stats

    def drain(self, max_rounds: int | None = None) -> RoundStats:
        """Rounds until nothing is due (``worker --once``)."""
        total = RoundStats()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            stats = self.run_round()
            rounds += 1
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run_forever(
        self, idle_sleep: float = 1.0, stop: Callable[[], bool] = lambda: False,
        chores: Callable[[], object] = lambda: None,
    ) -> None:
        """Claim whenever there is room, until ``stop``; then stop within ``grace``
        seconds: nothing new goes out, answers in flight are recorded, the rest of the
        claim is handed back. ``chores`` runs between steps (it must not raise)."""
        stats = RoundStats()
        next_chores = self.monotonic()
        while not stop():
            if self.monotonic() >= next_chores:
                chores()
                next_chores = self.monotonic() + idle_sleep
            try:
                # Only a claim that came back empty says nothing is due: a step that
                # let the last pending touches go without claiming (no room left for
                # more then) is followed at once by the next claim, not by a nap.
                nothing_due = False
                if len(self._pending) < self._flights.room():
                    want = self.batch_size - len(self._pending) - len(self._flights)
                    nothing_due = want > 0 and self._claim(want) == 0
                self._step(stats)
            except Exception:  # noqa: BLE001 - a worker survives a bad step and retries
                log.exception("dispatch step failed")
                connection.close()  # a broken connection is reopened by the next query
                walltime.sleep(idle_sleep)
                continue
            if stats.waiting:
                log.warning(readiness.waiting_summary(stats.waiting, stats.missing))
                stats = RoundStats()
            if nothing_due and not self._pending and not len(self._flights):
                walltime.sleep(idle_sleep)
        self.stop()

    def stop(self) -> None:
        """Hand back what has not started, record what comes back within ``grace``."""
        pending, self._pending = self._pending, []
        try:
            queries.release([t.pk for t in pending], self.owner)
            done = self._flights.drain(self.grace, self.monotonic)
            now = self.now()
            outcomes = self._outcomes + [self._answer(f, r, now) for f, r in done]
            self._outcomes = []
            with transaction.atomic():
                written = self._write(outcomes)
            recording.after(written)
        except Exception:  # noqa: BLE001 - the leases run out; another worker takes over
            log.exception("stopping: could not record everything; leases will run out")

    def close(self) -> None:
        self._flights.close()
        for channel in self.channels.values():
            channel.close()

    # -- one step -----------------------------------------------------------------------

    def _claim(self, limit: int) -> int:
        now = self.now()
        with transaction.atomic():
            ids = queries.claim(now, self.owner, now + self.lease, limit)
        self._renewed = self.monotonic()  # the lease runs from here
        if ids:
            loaded = context.load(ids, self._shared)
            self._known.add(loaded)
            self._pending.extend(loaded.touches)
        return len(ids)

    def _step(self, stats: RoundStats) -> None:
        """Collect the answers that came back, then in one transaction (one commit:
        commits, not queries, are what a busy database makes a worker wait for) write
        them and let the next group go."""
        wait = self._turn_in(self.tick) if len(self._flights) else 0.0
        answers = self._flights.finished(wait)
        if answers:
            # One moment for the answers taken in together: when the worker took them
            # (the timeline's rows and the figures they count then share it).
            now = self.now()
            self._outcomes.extend(self._answer(f, r, now) for f, r in answers)
        outcomes, self._outcomes = self._outcomes, []
        group, rest = self._next_group(self._flights.room())
        if not outcomes and not group:
            if self._pending and not len(self._flights):
                # All that waits, waits for its route's turn: wake when it comes.
                walltime.sleep(self._turn_in(self.tick))
            self._keep_leases()
            return
        try:
            with transaction.atomic():
                written = self._write(outcomes)
                admitted = self._admit(group)
        except Exception:
            self._outcomes = outcomes + self._outcomes  # written next step, or never
            raise
        self._pending = admitted.waiting + rest
        self._outcomes.extend(admitted.outcomes)
        self._start(admitted, stats)
        recording.after(written)
        for outcome in written:
            stats.count(outcome)
        if len(outcomes) > len(written):
            stats.outcomes["lease_lost"] += len(outcomes) - len(written)
        self._keep_leases()
        if self.metrics is not None:
            self.metrics.in_flight(len(self._flights))

    def _write(self, outcomes: list[Outcome]) -> list[Outcome]:
        return recording.write(outcomes, self.owner, self.now(), self._known.steps_by_flow,
                               self._known.policies)

    def _keep_leases(self) -> None:
        """Renew the lease on everything held once a third of it has passed: a slow
        provider must not let it run out, or another worker would send the touches."""
        if self.monotonic() - self._renewed < self.lease.total_seconds() / 3:
            return
        ids = [t.pk for t in self._pending] + self._flights.touch_ids()
        held = queries.renew(ids, self.owner, self.now() + self.lease)
        self._renewed = self.monotonic()
        self._pending = [t for t in self._pending if t.pk in held]

    # -- judging and letting go -----------------------------------------------------------

    def _admit(self, group: list[Due]) -> _Admitted:
        """Judge ``group`` with its customers locked (until the transaction ends) and
        their consent and recent sends read afresh; mark what goes as in flight."""
        if not group:
            return _Admitted()
        now = self.now()
        self.judge.new_group()
        queries.lock_customers([t.customer_id for t in group])
        fresh = context.fresh(
            {t.customer_id for t in group},
            now - self._known.longest_cap_period(),
            exclude=[t.pk for t in group],
        )
        flights, waiting, outcomes = self._judge_group(group, fresh, now)
        newly = [t.pk for t in waiting if t.reason != Reason.RATE_LIMITED]
        queries.note_waiting(newly, self.owner, Reason.RATE_LIMITED)
        for touch in waiting:
            touch.reason = Reason.RATE_LIMITED
        marked = queries.mark_in_flight(
            [(f.touch.pk, f.message.channel) for f in flights], self.owner, now,
            now + self.lease,
        )
        return _Admitted(flights, marked, waiting, outcomes)

    def _start(self, admitted: _Admitted, stats: RoundStats) -> None:
        for flight in admitted.flights:
            self._route_of.pop(flight.touch.pk, None)
            if flight.touch.pk in admitted.marked:
                self._flights.start(flight)
            else:
                stats.outcomes["lease_lost"] += 1

    def _next_group(self, room: int) -> tuple[list[Due], list[Due]]:
        """Up to ``room`` waiting touches, passing over those whose route (as last
        judged) has no room or rate left for now.

        A rate-limited route's grants are taken here, before the group's transaction
        (a grant inside it would keep the account's row locked against every other
        worker until the commit), and only as many of its touches are judged as were
        granted: a touch waiting for its account's turn is not judged over and over.
        """
        moment = self.monotonic()
        self._blocked = {k: until for k, until in self._blocked.items() if until > moment}
        wanted: dict[str, int] = defaultdict(int)
        for touch in self._pending:
            key = self._route_of.get(touch.pk)
            if key is not None and key not in self._blocked:
                wanted[key] += 1
        left = {k: min(n, self._flights.route_room(k)) for k, n in wanted.items()}
        self._granted = {}
        for key, n in left.items():
            rate = self._route_rate.get(key)
            if rate and n > 0 and self.limiter is not None:
                self._granted[key] = left[key] = self.limiter.acquire(key, rate, n)
                if left[key] < n:
                    self._block(key, rate)
        group: list[Due] = []
        rest: list[Due] = []
        for touch in self._pending:
            key = self._route_of.get(touch.pk)
            if len(group) < room and (key is None or left.get(key, 0) > 0):
                group.append(touch)
                if key is not None:
                    left[key] -= 1
            else:
                rest.append(touch)
        return group, rest

    def _hand_back_long_waits(self) -> None:
        """A round does not sit out a long wait for a route's turn (a 429 asking for a
        minute): such touches go back to the queue, due when the turn comes."""
        moment = self.monotonic()
        later = [t for t in self._pending
                 if self._blocked.get(self._route_of.get(t.pk, ""), 0.0) - moment > LONG_WAIT]
        if not later:
            return
        now = self.now()
        for touch in later:
            seconds = self._blocked[self._route_of[touch.pk]] - moment
            self._outcomes.append(
                transitions.requeue(touch, now + timedelta(seconds=seconds), Reason.RATE_LIMITED)
            )
        handed = {t.pk for t in later}
        self._pending = [t for t in self._pending if t.pk not in handed]

    def _turn_in(self, longest: float) -> float:
        """Seconds until the first blocked route may have a grant (at most ``longest``)."""
        if not self._blocked:
            return longest
        return max(0.0, min(longest, min(self._blocked.values()) - self.monotonic()))

    def _block(self, key: str, rate: float) -> None:
        """Judge the route's touches again only once a grant may come (a 429's
        backoff included)."""
        assert self.limiter is not None
        self._blocked[key] = self.monotonic() + self.limiter.wait(key, rate)

    def _judge_group(
        self, group: list[Due], fresh: Fresh, now: datetime
    ) -> tuple[list[Flight], list[Due], list[Outcome]]:
        flights: list[Flight] = []
        waiting: list[Due] = []
        outcomes: list[Outcome] = []
        recent = dict(fresh.recent)
        for touch in group:
            decided = self.judge.decide(touch, fresh, recent, now)
            if isinstance(decided, Outcome):
                outcomes.append(decided)
                continue
            r = recent.get(touch.customer_id, Recent())
            recent[touch.customer_id] = Recent(
                sent=(*r.sent, now),
                commercial=(*r.commercial, now) if touch.commercial else r.commercial,
            )
            flights.append(decided)
        granted = self._grant(flights)
        chosen = {f.touch.pk for f in granted}
        waiting = [f.touch for f in flights if f.touch.pk not in chosen]
        return granted, waiting, outcomes

    def _grant(self, flights: list[Flight]) -> list[Flight]:
        """Those of ``flights`` their route has room and rate for now, in order: the
        grants taken before the group for routes known to be limited, else one asked
        for now (a route seen for the first time)."""
        by_route: dict[str, list[Flight]] = defaultdict(list)
        for flight in flights:
            by_route[flight.route.key].append(flight)
        chosen: set[int] = set()
        for key, wanting in by_route.items():
            rate = wanting[0].route.rate
            for flight in wanting:
                self._route_of[flight.touch.pk] = key
            if rate:
                self._route_rate[key] = rate
            room = min(len(wanting), self._flights.route_room(key))
            if key in self._granted:
                room = min(room, self._granted[key])
            elif room > 0 and rate and self.limiter is not None:
                room = self.limiter.acquire(key, rate, room)
                if room < len(wanting):
                    self._block(key, rate)
            granted = wanting[:max(room, 0)]
            chosen.update(f.touch.pk for f in granted)
            if rate:
                self._count_rate_waits(granted, wanting[len(granted):])
        return [f for f in flights if f.touch.pk in chosen]

    def _count_rate_waits(self, granted: list[Flight], held_back: list[Flight]) -> None:
        """How long touches waited for their account's turn (the metrics' rate wait)."""
        moment = self.monotonic()
        for flight in held_back:
            self._rate_wait_since.setdefault(flight.touch.pk, moment)
        for flight in granted:
            since = self._rate_wait_since.pop(flight.touch.pk, None)
            if since is not None and self.metrics is not None:
                self.metrics.rate_waited(flight.route.key, moment - since,
                                         provider=flight.route.provider)

    # -- answers --------------------------------------------------------------------------

    def _answer(self, flight: Flight, result: SendResult, now: datetime) -> Outcome:
        touch, route = flight.touch, flight.route
        if not result.ok and result.retry_after:
            # The account is slowed for every worker where it has a shared rate limit
            # (every provider account has one), for this worker's sends in any case.
            if self.limiter is not None and route.rate:
                self.limiter.backoff(route.key, result.retry_after)
            self._blocked[route.key] = self.monotonic() + result.retry_after
        can_fall_back = (
            not result.ok and not result.transient and self.judge.can_fall_back(touch, now)
        )
        outcome = transitions.result(
            touch, now, result, self.retry, honours_keys=route.honours_keys,
            can_fall_back=can_fall_back,
        )
        if self.metrics is not None:
            if result.ok:
                self.metrics.sent(route.key, (now - touch.due_at).total_seconds(),
                                  provider=route.provider)
            else:
                self.metrics.failed(route.key, _failure_kind(outcome), provider=route.provider)
        return outcome


def _failure_kind(outcome: Outcome) -> str:
    """A failed send as the metrics count it: retry, fallback, rejected, dead (gave
    up), uncertain or expired."""
    update = outcome.update
    if update.state == TouchState.QUEUED:
        return "fallback" if update.reason == Reason.FALLBACK else "retry"
    if update.reason == Reason.REJECTED:
        return "rejected"
    return str(update.state)
