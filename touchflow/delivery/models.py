"""Touches (one due message of one step for one enrollment), their attempts, and call tasks.

Delivery state is data: the dispatcher claims touch rows, and every outcome is a
state with a reason, so nothing is lost silently.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TouchState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    # Not written any more: a touch in a worker's hands stays "queued" with a live
    # lease (lease_until in the future). Kept so old rows still read.
    CLAIMED = "claimed", _("Being sent")
    PAUSED = "paused", _("Waiting: chain paused")
    SENT = "sent", _("Sent")
    TASK = "task", _("Call task created")
    SKIPPED = "skipped", _("Skipped")
    EXPIRED = "expired", _("Expired")
    DEAD = "dead", _("Failed (dead letter)")
    # The request may have reached a provider that does not honour idempotency keys,
    # but its answer was never recorded (the worker died mid-send, or the request timed
    # out after it was written): sent again it could arrive twice, so it is not; it is
    # listed with the dead letters, and a person may send it again (decision 0016).
    UNCERTAIN = "uncertain", _("Not known whether it was sent")
    CANCELLED = "cancelled", _("Cancelled")


FINAL_STATES = (
    TouchState.SENT,
    TouchState.TASK,
    TouchState.SKIPPED,
    TouchState.EXPIRED,
    TouchState.DEAD,
    TouchState.UNCERTAIN,
    TouchState.CANCELLED,
)


class Touch(models.Model):
    # The hot path writes each touch three times: the claim (lease columns only, which
    # no index covers, so PostgreSQL updates it in place — a HOT update), the outcome
    # (a new row version: every index gets an entry) and the insert of the next step's
    # touch. So only the indexes a query needs exist. (enrollment, step, round) serves
    # lookups by enrollment; steps are retired, never deleted; stores are deleted so
    # rarely that a scan then is the cheaper price.
    # Touches are the enrollment's scheduled work, written only by code that holds the
    # enrollment in the same transaction: no per-row database check (a million of them
    # when a segment enters a chain, 500 a dispatch round). Django cascades deletion.
    enrollment = models.ForeignKey(
        "flows.Enrollment", on_delete=models.CASCADE, related_name="touches", db_index=False,
        db_constraint=False,
    )
    # The step, customer and store are copies the enrollment already determines: no
    # database constraint checks them (each check takes a share lock on the parent row;
    # two workers locking the same step and store rows for every touch they queue is
    # what made PostgreSQL's multixacts the dispatcher's bottleneck). Django still
    # enforces PROTECT and CASCADE, and steps are retired, never deleted.
    step = models.ForeignKey(
        "flows.FlowStep", on_delete=models.PROTECT, related_name="touches", db_index=False,
        db_constraint=False,
    )
    # A step is scheduled once per enrollment; "round" leaves room for steps that repeat.
    round = models.PositiveSmallIntegerField(default=0)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="touches",
        db_constraint=False,
    )
    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )
    commercial = models.BooleanField(default=False)
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=TouchState.choices, default=TouchState.QUEUED)
    channel = models.CharField(max_length=16, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What the provider sees; the same key on a retry lets it drop the duplicate.
    # Random (128 bits), so unique without an index to prove it.
    idempotency_key = models.CharField(max_length=64)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set (with the lease, so no index changes: a HOT update) right before the request
    # leaves the worker, cleared when its outcome is recorded. A touch claimed with it
    # set was in flight when its worker died: the send is ambiguous (decision 0016).
    in_flight_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=64, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    # The provider's delivery receipt: "", delivered, read or failed (only moves forward).
    receipt = models.CharField(max_length=10, blank=True, default="", db_default="")
    receipt_at = models.DateTimeField(null=True, blank=True)
    # Channels that failed for good (a failed receipt): the step falls back past them.
    failed_channels = models.CharField(max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step", "round"], name="touch_once_per_step_round"
            ),
        ]
        indexes = [
            # The dispatcher's claim reads only due work: cost follows the queue, not the base.
            models.Index(fields=["due_at"], name="touch_queued_due", condition=Q(state="queued")),
            # Frequency caps count what a customer received recently.
            models.Index(
                fields=["customer", "finished_at"],
                name="touch_sent_by_customer",
                condition=Q(state="sent"),
            ),
            # Receipts find their touch by the provider's message id.
            models.Index(
                fields=["provider_message_id"],
                name="touch_provider_message",
                condition=~Q(provider_message_id=""),
            ),
            # The dead-letter list, newest first.
            models.Index(fields=["finished_at"], name="touch_dead", condition=Q(state="dead")),
            models.Index(
                fields=["finished_at"], name="touch_uncertain", condition=Q(state="uncertain")
            ),
        ]

    def __str__(self) -> str:
        return f"touch {self.pk} ({self.state})"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Failed, will retry")
    FAILED = "failed", _("Failed")


class Attempt(models.Model):
    """A failed attempt to send a touch (its success is recorded on the touch itself)."""

    touch = models.ForeignKey(Touch, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    channel = models.CharField(max_length=16)
    outcome = models.CharField(max_length=8, choices=AttemptOutcome.choices)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["touch", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of touch {self.touch_id}: {self.outcome}"


class TaskState(models.TextChoices):
    OPEN = "open", _("To do")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class CallResult(models.TextChoices):
    REACHED = "reached", _("Talked to the customer")
    NO_ANSWER = "no_answer", _("No answer")
    CALL_BACK = "call_back", _("Asked to call back later")
    DECLINED = "declined", _("Does not want calls")


class CallTask(models.Model):
    """A phone call a person makes: a chain's call step becomes one of these."""

    touch = models.OneToOneField(Touch, on_delete=models.CASCADE, related_name="task")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="call_tasks"
    )
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_tasks",
    )
    phone = models.CharField(max_length=32, blank=True)
    script = models.TextField()
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=TaskState.choices, default=TaskState.OPEN)
    result = models.CharField(max_length=10, choices=CallResult.choices, blank=True)
    note = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Minutes the person says the call took (issue 11: time spent on tasks); NULL: not said.
    minutes = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["assignee", "state", "due_at"])]

    def __str__(self) -> str:
        return f"call {self.customer_id} ({self.state})"


class RateBucket(models.Model):
    """How fast one provider account or deployment-wide channel is being sent to, shared
    by every worker (PostgreSQL; on SQLite the one worker keeps this in memory).

    Written only by ``delivery.ratelimit``, one UPDATE per grant. Times are seconds since
    the epoch on the database's clock, so workers on different machines agree. No index
    but the key: each grant is a HOT update of a row that stays in place.
    """

    # "account:<id>" or "channel:<name>" (ratelimit.account_key / channel_key).
    key = models.CharField(max_length=100, primary_key=True)
    # When the next message would be due were messages sent exactly 1/rate apart (GCRA).
    tat = models.FloatField(default=0.0)
    # A provider's 429 Retry-After: nothing is granted before this.
    blocked_until = models.FloatField(default=0.0)
    # How many the last grant gave (what UPDATE … RETURNING hands back).
    granted = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"rate bucket {self.key}"
