"""What the officer service (handlers.desk) returns and raises: plain data, no channel.

Times are UTC datetimes; `*_local` fields are the same instant in office time. States,
triggers, roles, kinds and channels are ids: a face labels them (handlers.words).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from storage.errors import Conflict, InvalidInput, NotFound, StorageError


# -- errors ---------------------------------------------------------------------------------
class CaseNotFound(NotFound):
    """No such case in this office."""


class CaseHidden(CaseNotFound):
    """The case exists but is another unit's. A CaseNotFound with the same message: a
    face that cannot say "not yours" without telling that it exists shows both alike."""


class NotAllowed(StorageError):
    """This officer's role (or unit) may not do this to this case."""


class NeedsInput(InvalidInput):
    """The action needs `needs` ("note", "unit" or "reason") first. For a transition:
    `action`, the case's current `version` and, for a unit, the `units` to choose from."""

    def __init__(self, message: str, *, needs: str, ticket: str, trigger: str | None = None,
                 version: int | None = None, action: "ActionView | None" = None, units: tuple = ()):
        super().__init__(message, key=f"error.needs_{needs}")
        self.needs, self.ticket, self.trigger, self.version = needs, ticket, trigger, version
        self.action, self.units = action, units


class Stale(Conflict):
    """The case moved on (a newer version, or a state the action no longer leaves):
    what it is now and its newest event."""

    def __init__(self, message: str, *, ticket: str, state: str, workflow: str, last: "EventView | None"):
        super().__init__(message, actor=_who(last), state=state)
        self.ticket, self.workflow, self.last = ticket, workflow, last


def _who(last) -> str:
    if last is None:
        return "someone"
    return f"officer #{last.actor_id} ({last.actor_role})" if last.actor_type == "officer" else last.actor_type


# -- data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Reporter:
    """Who filed it; None on a CaseView for an anonymous report or a case without one."""
    name: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class AttachmentView:
    """An attachment's facts (the same names as storage.models.Attachment)."""
    id: int
    media_type: str
    content_type: str | None
    size: int | None
    filename: str | None
    channel: str
    provider_ref: str | None
    stored_path: str | None
    fetch_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class EventView:
    """One line of the audit trail; `officer_name`: the acting officer's name, if any."""
    id: int
    at: datetime
    at_local: datetime
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    public: bool
    actor_type: str
    actor_id: int | None
    actor_role: str | None
    officer_name: str | None = None


@dataclass(frozen=True)
class ClockView:
    """An open stage clock."""
    stage: str
    sla: str
    due_at: datetime
    due_local: datetime
    paused: bool
    overdue: bool


@dataclass(frozen=True)
class ActionView:
    """A transition this officer may take now; `needs`: None, "note" or "unit"."""
    trigger: str
    label_id: str
    label_en: str
    needs: str | None
    command: str | None


@dataclass(frozen=True)
class RatingView:
    solved: bool
    score: int | None
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class CaseView:
    """A case as an officer who may see it sees it."""
    ticket: str
    version: int
    workflow: str
    state: str
    kind: str
    category: str | None
    channel: str
    privacy: str
    text: str
    unit: UnitRef | None
    reporter: Reporter | None
    lapor_id: str | None
    opened_at: datetime
    opened_local: datetime
    closed_at: datetime | None
    escalated_at: datetime | None
    attachments: tuple[AttachmentView, ...]
    history: tuple[EventView, ...]  # oldest first
    clocks: tuple[ClockView, ...]  # the open stage clocks
    deadline: ClockView | None  # the current stage's clock
    overdue: bool
    actions: tuple[ActionView, ...]
    ratings: tuple[RatingView, ...]
    may_note: bool = True
    may_escalate: bool = True
    may_set_lapor_id: bool = False

    @property
    def notes(self) -> tuple[EventView, ...]:
        """The internal notes, oldest first."""
        return tuple(e for e in self.history if e.action == "note")


@dataclass(frozen=True)
class Done:
    """What `act` did: the action taken, and the case after it."""
    action: ActionView
    case: CaseView


@dataclass(frozen=True)
class QueueItem:
    ticket: str
    state: str
    kind: str
    category: str | None
    channel: str
    unit_id: int | None
    created_at: datetime
    due_at: datetime | None  # the soonest open stage clock
    due_local: datetime | None
    overdue: bool


@dataclass(frozen=True)
class Page:
    """One page of queue or search results; `page` counts from 0."""
    items: tuple[QueueItem, ...]
    total: int
    page: int
    page_size: int | None

    @property
    def pages(self) -> int:
        if not self.page_size:
            return 1
        return (self.total + self.page_size - 1) // self.page_size

    @property
    def has_next(self) -> bool:
        return self.page_size is not None and (self.page + 1) * self.page_size < self.total


@dataclass(frozen=True)
class Statistics:
    """The office's figures now: cases by state (workflow order), overdue, this month's."""
    total: int
    by_state: dict[str, int]
    overdue: int
    new_this_month: int
    closed_this_month: int


@dataclass(frozen=True)
class Filters:
    """Search filters; None: any. Dates are office-local days, both ends included; `stage`:
    a case with an open stage clock of that stage (a paused one too); `text`: in the
    ticket, the complaint or the SP4N-LAPOR! id, any case."""
    ticket: str | None = None
    state: str | None = None
    stage: str | None = None
    unit: str | None = None  # a unit code
    category: str | None = None
    channel: str | None = None
    kind: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    overdue: bool | None = None
    text: str | None = None


@dataclass(frozen=True)
class WalkIn:
    """A complaint an officer records for a citizen (the /catat form): `source` is how it
    came (front_desk, complaint_box, phone, email, lapor)."""
    source: str
    kind: str
    text: str
    category: str | None = None
    privacy: str = "biasa"
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    attachments: tuple = field(default_factory=tuple)  # dicts: kind, ref, content_type, size, filename
