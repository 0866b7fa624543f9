"""The outbox: every outgoing message is a row until the provider has accepted it.

Rows are written in the same transaction as the change that caused them. Workers
send them in id order per chat; a row ends `sent` (accepted, provider id kept),
`failed` (with a terminal reason, e.g. the citizen blocked the bot) or `held`
(WhatsApp's 24-hour window closed and no template is configured; released when the
citizen writes again).
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import event, func, select, tuple_, update
from sqlalchemy.orm import Session

from flows.messages import Reply
from storage import chat_context
from storage.models import Outbox, utcnow
from storage.scoping import office_of

PENDING, SENT, FAILED, HELD = "pending", "sent", "failed", "held"
MAX_ATTEMPTS = 12
_BATCH = "outbox_batch"  # session.info key of the rows a `batched` block keeps


# Longer texts become several rows, so a retry never repeats a part already sent
# (Telegram takes 4,096 characters, WhatsApp 1,600; room is left for markup and menus).
PART_LIMIT = {"telegram": 3500, "whatsapp": 1300}


def enqueue(session: Session, channel: str, chat_id: str, reply: Reply, *,
            case_id: int | None = None, purpose: str | None = None,
            now: datetime | None = None) -> None:
    """Queue a reply, one row per part (the last carries the buttons). Written at once,
    in this transaction, or at the end of a `batched` block."""
    now = now or utcnow()
    payload = reply.as_payload()
    parts = split_text(payload["text"], PART_LIMIT.get(channel, 100_000))
    rows = [{"channel": channel, "chat_id": str(chat_id), "case_id": case_id, "purpose": purpose,
             "payload": dict(payload, text=part) if n == len(parts) - 1 else {"text": part},
             "status": PENDING, "attempts": 0, "created_at": now, "next_attempt_at": now}
            for n, part in enumerate(parts)]
    if (batch := session.info.get(_BATCH)) is not None:
        batch.extend(rows)
    else:
        _write(session, rows)
    # Who to nudge after the commit (the worker's RQ jobs are per chat).
    session.info.setdefault("outbox_chats", set()).add((channel, str(chat_id)))


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Within the block, enqueue() keeps its rows and writes them all in one statement at
    the end, in the order they were queued: a scheduler tick writes thousands of reminders
    (an executemany is a fifth of the time of as many ORM objects), a worker's batch the
    replies of several messages. Any ORM statement on the outbox inside the block (a
    privacy erasure clearing a chat's rows, a web chat session ended) writes the rows kept
    so far first, as autoflush does for objects, so it sees them. Inside another batched
    block, the rows go with the outer block's."""
    if session.info.get(_BATCH) is not None:
        yield
        return
    rows = session.info[_BATCH] = []
    try:
        yield
        if rows:
            _write(session, rows)
    finally:
        del session.info[_BATCH]


@event.listens_for(Session, "do_orm_execute")
def _kept_rows_first(state) -> None:
    rows = state.session.info.get(_BATCH)
    if rows and any(mapper.class_ is Outbox for mapper in state.all_mappers):
        kept = list(rows)
        rows.clear()
        _write(state.session, kept)


def _write(session: Session, rows: list[dict]) -> None:
    # Plain Core on the transaction's connection: nothing of the ORM's to keep in step (a
    # case_id given is a case already flushed), and a few hundred microseconds less a message.
    # The office: a Core statement is not scoped by storage.scoping.
    office = office_of(session)
    session.connection().execute(Outbox.__table__.insert(), [dict(r, office_id=office) for r in rows])


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into parts of at most `limit` characters, at line or word ends."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return parts


def due_chats(session: Session, now: datetime, channels: tuple[str, ...], limit: int = 50):
    """(office, channel, chat) of the chats with a pending message that may be sent now
    (oldest first)."""
    first = func.min(Outbox.id)
    return [(office, channel, chat_id) for office, channel, chat_id, _ in session.execute(
        select(Outbox.office_id, Outbox.channel, Outbox.chat_id, first)
        .where(Outbox.status == PENDING, Outbox.next_attempt_at <= now, Outbox.channel.in_(channels))
        .group_by(Outbox.office_id, Outbox.channel, Outbox.chat_id)
        .order_by(first)
        .limit(limit)
    )]


def next_for_chat(session: Session, channel: str, chat_id: str) -> Outbox | None:
    """The chat's oldest pending row: later rows wait behind it, so order is kept."""
    return session.scalar(
        select(Outbox).where(Outbox.channel == channel, Outbox.chat_id == chat_id,
                             Outbox.status == PENDING).order_by(Outbox.id).limit(1))


def last_question(session: Session, channel: str, chat_id: str) -> Reply | None:
    """The newest message this chat has been given (the provider accepted it, or the web
    chat page fetched it), if it offered choices: what a typed "1" answers. A message
    still queued or held has not been seen, so it is not what the person answers."""
    read, payload = chat_context.take(session, "question", channel, str(chat_id))
    if not read:
        payload = session.scalar(
            select(Outbox.payload).where(Outbox.channel == channel, Outbox.chat_id == str(chat_id),
                                         Outbox.status == SENT).order_by(Outbox.id.desc()).limit(1))
    if not payload or not payload.get("buttons"):
        return None
    return Reply.from_payload(payload)


def by_provider_id(session: Session, channel: str, chat_id: str | None, provider_message_id: str) -> Outbox | None:
    """The row a provider message id belongs to: exactly that id, or exactly one of the
    comma-joined ids of a split message. Never a pattern: the id comes from outside (a
    status callback's `MessageSid=%` once marked an unrelated row), so LIKE's wildcards
    are escaped and the match is checked once more on the split ids."""
    pid = provider_message_id
    if not pid or "," in pid:
        return None
    col, e = Outbox.provider_message_id, _like_escape(pid)
    where = [Outbox.channel == channel,
             (col == pid) | col.like(f"{e},%", escape="\\") | col.like(f"%,{e}", escape="\\")
             | col.like(f"%,{e},%", escape="\\")]
    if chat_id is not None:
        where.append(Outbox.chat_id == chat_id)
    rows = session.scalars(select(Outbox).where(*where).order_by(Outbox.id).limit(10))
    return next((r for r in rows if pid in r.provider_message_id.split(",")), None)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mark_sent(row: Outbox, provider_message_id: str | None, now: datetime) -> None:
    row.status, row.provider_message_id, row.sent_at = SENT, provider_message_id, now
    row.attempts += 1
    row.error = None


def mark_retry(row: Outbox, delay: float, error: str, now: datetime) -> None:
    row.attempts += 1
    row.error = error[:500]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = FAILED
        row.error = f"gave up after {row.attempts} attempts: {row.error}"
    else:
        row.next_attempt_at = now + timedelta(seconds=delay)


def mark_failed(row: Outbox, reason: str, now: datetime) -> None:
    row.status, row.error = FAILED, reason[:500]
    row.attempts += 1


def mark_held(row: Outbox, reason: str) -> None:
    row.status, row.error = HELD, reason[:500]


def release_held(session: Session, channel: str, chat_id: str, now: datetime) -> int:
    """The citizen wrote again: their held messages may go now."""
    return session.execute(
        update(Outbox).where(Outbox.channel == channel, Outbox.chat_id == str(chat_id),
                             Outbox.status == HELD)
        .values(status=PENDING, next_attempt_at=now, error=None)
    ).rowcount


def held_count(session: Session, chats: list[tuple[str, str]]) -> int:
    """How many messages wait, held, for these (channel, chat id) pairs."""
    if not chats:
        return 0
    return session.scalar(select(func.count()).select_from(Outbox).where(
        Outbox.status == HELD, tuple_(Outbox.channel, Outbox.chat_id).in_(chats)))
