"""Streaming every case with its events and current due time, a batch at a time."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseEvent, Deadline


EXPORT_FIELDS = ["ticket", "kind", "category", "channel", "privacy", "state", "workflow",
                 "lapor_tracking_id", "created_at", "updated_at", "closed_at", "stage_due_at",
                 "stage_paused", "events"]


def iter_case_records(session: Session, batch: int = 500) -> Iterator[dict]:
    """Yield one dict per case in id order; memory stays at one batch, whatever the size."""
    last_id = 0
    while True:
        cases = session.scalars(
            select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch)
        ).all()
        if not cases:
            return
        ids = [c.id for c in cases]
        events = defaultdict(list)
        for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids))
                                 .order_by(CaseEvent.id)):
            events[e.case_id].append(e)
        due = {}
        for d in session.scalars(select(Deadline).where(
                Deadline.case_id.in_(ids), Deadline.kind == "stage",
                Deadline.completed_at.is_(None))):
            due[(d.case_id, d.stage)] = d
        for c in cases:
            current = due.get((c.id, c.state))
            yield {
                "ticket": c.ticket, "kind": c.kind, "category": c.category, "channel": c.channel,
                "privacy": c.privacy, "state": c.state, "workflow": c.workflow,
                "lapor_tracking_id": c.lapor_tracking_id,
                "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "stage_due_at": current.due_at.isoformat() if current and not current.paused_at else None,
                "stage_paused": bool(current and current.paused_at),
                "events": [
                    {"at": e.at.isoformat(), "actor": e.actor_type, "actor_id": e.actor_id,
                     "role": e.actor_role, "action": e.action, "from": e.from_state,
                     "to": e.to_state, "public": e.public}
                    for e in events[c.id]
                ],
            }
        session.expunge_all()  # keep memory flat across batches
        last_id = ids[-1]
