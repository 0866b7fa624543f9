"""What handling a message needs to know of its chat, read in one statement with the message.

The inbound worker reads the chat's next message (storage.inbound.next_of_chat) together
with the chat's officer identity (and officer), citizen identity (and citizen), dialog and
the last question it was given: one statement instead of five, before any of them is
needed. Each is kept for the transaction and handed out once, to the first reader that
asks for it (storage.officers.linked_identity, storage.citizens.identity_for,
storage.dialogs.load, storage.outbox.last_question); any later read queries as before, so
a change made meanwhile in the transaction (an enrolment, a first contact) is seen.

The statement is ORM-enabled (`select(Model, ...)` through the Session), so a session scoped
to an office filters every entity in it as it filters the separate queries.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import and_, bindparam, event, func, select, tuple_
from sqlalchemy.orm import Session, joinedload

from storage.models import CitizenIdentity, Dialog, InboundMessage, OfficerIdentity, Outbox

_KEY = "chat_context"
SENT = "sent"  # storage.outbox.SENT (not imported: storage.outbox reads from here)


def next_with_context(session: Session, channel: str, chat_id: str):
    """The chat's lowest unhandled message, and what handling it needs of the chat kept
    for the first readers in this transaction."""
    found = session.execute(_statement(), {"channel": channel, "chat_id": chat_id}).first()
    if found is None:
        return None
    _keep(_kept(session), found)
    return found  # the message's columns by name (id, channel, chat_id, payload)


def next_of_chats(session: Session, office_id: int, chats: list[tuple[str, str]]) -> dict:
    """next_with_context for several chats of the office in one statement: {(channel,
    chat): the chat's lowest unhandled message}, with each chat's context kept."""
    if not chats:
        return {}
    found, kept = {}, _kept(session)
    for row in session.execute(_statement(many=True), {"office": office_id, "chats": chats}):
        _keep(kept, row)
        found[(row.channel, row.chat_id)] = row
    return found


_CONTEXT = ("officer_identity", "citizen_identity", "dialog", "question")  # the columns after the message's four


def _keep(kept: dict, row) -> None:
    for what, value in zip(_CONTEXT, row[4:]):
        kept[(what, row.channel, row.chat_id)] = value


@cache
def _statement(many: bool = False):
    """Built once (building it is a third of its cost): the chat is bound at execution
    (`many`: the office and a list of chats; each chat's lowest unhandled message)."""
    question = (select(Outbox.payload)
                .where(Outbox.channel == InboundMessage.channel, Outbox.chat_id == InboundMessage.chat_id,
                       Outbox.status == SENT)
                .order_by(Outbox.id.desc()).limit(1).correlate(InboundMessage).scalar_subquery())
    message = (InboundMessage.id, InboundMessage.channel, InboundMessage.chat_id, InboundMessage.payload)
    statement = (select(*message, OfficerIdentity, CitizenIdentity, Dialog, question)
                 .outerjoin(OfficerIdentity, and_(OfficerIdentity.channel == InboundMessage.channel,
                                                  OfficerIdentity.external_id == InboundMessage.chat_id))
                 .outerjoin(CitizenIdentity, and_(CitizenIdentity.channel == InboundMessage.channel,
                                                  CitizenIdentity.external_id == InboundMessage.chat_id))
                 .outerjoin(Dialog, and_(Dialog.channel == InboundMessage.channel,
                                         Dialog.chat_id == InboundMessage.chat_id))
                 .options(joinedload(OfficerIdentity.officer), joinedload(CitizenIdentity.citizen)))
    if many:
        firsts = (select(func.min(InboundMessage.id))
                  .where(InboundMessage.office_id == bindparam("office"), InboundMessage.handled_at.is_(None),
                         tuple_(InboundMessage.channel, InboundMessage.chat_id).in_(
                             bindparam("chats", expanding=True)))
                  .group_by(InboundMessage.channel, InboundMessage.chat_id))
        return statement.where(InboundMessage.id.in_(firsts)).order_by(InboundMessage.id)
    return (statement.where(InboundMessage.channel == bindparam("channel"),
                            InboundMessage.chat_id == bindparam("chat_id"), InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.id).limit(1))


def take(session: Session, what: str, channel: str, chat_id: str) -> tuple[bool, object]:
    """(True, the value read with the message) the first time it is asked for in this
    transaction; (False, None) otherwise: query it."""
    kept = _kept(session, create=False)
    if kept is None or (what, channel, chat_id) not in kept:
        return False, None
    return True, kept.pop((what, channel, chat_id))


def message_done(session: Session) -> None:
    """Between two messages of a worker's batch: the chats whose identity or dialog row the
    message added or deleted (flushed or not; say an officer's walk-in record for a
    number) are read afresh by their own handling, since what was read with the batch no
    longer is what is there. (A message's changes to its own chat never hide its own
    reads: that chat's reads are done.)"""
    state = _state(session)
    if state is None:
        return
    kept, flushed = state[1], state[2]
    for chat in flushed | _changed_chats(session.new, session.deleted):
        for what in _CONTEXT[:3]:
            kept.pop((what, *chat), None)
    flushed.clear()


@event.listens_for(Session, "before_flush")
def _note_changed(session: Session, _context, _instances) -> None:
    """What a flush adds or deletes leaves session.new and session.deleted: noted for
    message_done."""
    state = _state(session)
    if state is not None and state[1]:
        state[2].update(_changed_chats(session.new, session.deleted))


def _changed_chats(*objects) -> set[tuple[str, str]]:
    chats = set()
    for group in objects:
        for obj in group:
            if isinstance(obj, Dialog):
                chats.add((obj.channel, obj.chat_id))
            elif isinstance(obj, (CitizenIdentity, OfficerIdentity)):
                chats.add((obj.channel, obj.external_id))
    return chats


def _kept(session: Session, create: bool = True) -> dict | None:
    state = _state(session)
    if state is None:
        if not create:
            return None
        state = session.info[_KEY] = (session.get_transaction(), {}, set())
    return state[1]


def _state(session: Session) -> tuple | None:
    """(the transaction, what was read for it, the chats its flushes changed since the last
    message_done); None for another transaction: nothing read for this one."""
    known = session.info.get(_KEY)
    return known if known is not None and known[0] is session.get_transaction() else None
