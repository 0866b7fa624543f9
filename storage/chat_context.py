"""What handling a message needs to know of its chat, read in one statement with the message.

The inbound worker reads the chat's next message (storage.inbound.next_of_chat) together
with the chat's officer identity (and officer), citizen identity (and citizen), dialog and
the last question it was given: one statement instead of five, before any of them is
needed. Each is kept for the transaction and handed out once, to the first reader that
asks for it (storage.officers.linked_identity, storage.citizens.identity_for,
storage.dialogs.load, storage.outbox.last_question); any later read queries as before, so
a change made meanwhile in the transaction (an enrolment, a first contact) is seen.

The statement is Core, on the tables, with the office written into it: on every table,
in each join's condition and in the WHERE, bound from the session's office (as the
session's scoping filters every ORM query: storage.scoping). Its rows become the ORM's
objects here, attached to the session as if a query had loaded them (an object the
session holds already is used as it is). Through the ORM the same statement cost five to
ten times what the database spent on it (the office's criteria on five entities, the
eager loads, the result's entities), for every batch and every single message.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import and_, bindparam, event, func, select, tuple_
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Citizen, CitizenIdentity, Dialog, InboundMessage, Officer, OfficerIdentity, Outbox
from storage.scoping import as_loaded, office_of

_KEY = "chat_context"
SENT = "sent"  # storage.outbox.SENT (not imported: storage.outbox reads from here)


def next_with_context(session: Session, channel: str, chat_id: str):
    """The chat's lowest unhandled message, and what handling it needs of the chat kept
    for the first readers in this transaction."""
    session.flush()  # as a query through the session would: it reads what this transaction wrote
    found = session.connection().execute(
        _statement(), {"office": office_of(session), "channel": channel, "chat_id": chat_id}).first()
    if found is None:
        return None
    _keep(_kept(session), _objects(session, found))
    return found  # the message's columns by name (id, channel, chat_id, payload)


def next_of_chats(session: Session, office_id: int, chats: list[tuple[str, str]]) -> dict:
    """next_with_context for several chats of the office in one statement: {(channel,
    chat): the chat's lowest unhandled message}, with each chat's context kept."""
    if not chats:
        return {}
    found, kept = {}, _kept(session)
    session.flush()
    for row in session.connection().execute(_statement(many=True), {"office": office_id, "chats": chats}):
        _keep(kept, _objects(session, row))
        found[(row.channel, row.chat_id)] = row
    return found


_CONTEXT = ("officer_identity", "citizen_identity", "dialog", "question")  # the columns after the message's four


def _keep(kept: dict, context: tuple) -> None:
    channel, chat_id = context[0]
    for what, value in zip(_CONTEXT, context[1:]):
        kept[(what, channel, chat_id)] = value


# The entities read with a message, in the statement's order; each one's columns follow
# the message's four, in its mapper's order.
_ENTITIES = (OfficerIdentity, Officer, CitizenIdentity, Citizen, Dialog)
_COLUMNS = {model: [attr.key for attr in model.__mapper__.column_attrs] for model in _ENTITIES}


def _objects(session: Session, row) -> tuple:
    """((channel, chat), officer identity, citizen identity, dialog, question) of one row:
    each entity the session's own if it holds it, else made from the row's columns as the
    ORM makes an object it loads (its officer or citizen set without a change), or None."""
    made, at = {}, 4
    for model in _ENTITIES:
        keys = _COLUMNS[model]
        values = row[at:at + len(keys)]
        at += len(keys)
        made[model] = None if values[0] is None else _persistent(session, model, dict(zip(keys, values)))
    for identity, owner, attr in ((OfficerIdentity, Officer, "officer"), (CitizenIdentity, Citizen, "citizen")):
        if made[identity] is not None and attr not in made[identity].__dict__:
            set_committed_value(made[identity], attr, made[owner])
    return ((row.channel, row.chat_id), made[OfficerIdentity], made[CitizenIdentity], made[Dialog], row[at])


def _persistent(session: Session, model, values: dict):
    held = session.identity_map.get(model.__mapper__.identity_key_from_primary_key((values["id"],)))
    if held is not None:
        return held
    # as the ORM's loading makes one: the instance without its constructor, its columns
    # set as loaded (no change to flush), its relationships left to load when asked (in
    # its office, as a scoped query's objects do)
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    as_loaded(obj, values["office_id"])  # its lazy loads scoped to its office
    session.add(obj)
    return obj


@cache
def _statement(many: bool = False):
    """Built once: the office and the chat are bound at execution (`many`: a list of
    chats; each chat's lowest unhandled message)."""
    message, officer_identity, officer = InboundMessage.__table__, OfficerIdentity.__table__, Officer.__table__
    citizen_identity, citizen, dialog, outbox = (CitizenIdentity.__table__, Citizen.__table__, Dialog.__table__,
                                                 Outbox.__table__)
    office = bindparam("office")
    question = (select(outbox.c.payload)
                .where(outbox.c.office_id == office, outbox.c.channel == message.c.channel,
                       outbox.c.chat_id == message.c.chat_id, outbox.c.status == SENT)
                .order_by(outbox.c.id.desc()).limit(1).correlate(message).scalar_subquery())
    joined = (message
              .outerjoin(officer_identity, and_(officer_identity.c.office_id == office,
                                                officer_identity.c.channel == message.c.channel,
                                                officer_identity.c.external_id == message.c.chat_id))
              .outerjoin(officer, and_(officer.c.office_id == office, officer.c.id == officer_identity.c.officer_id))
              .outerjoin(citizen_identity, and_(citizen_identity.c.office_id == office,
                                                citizen_identity.c.channel == message.c.channel,
                                                citizen_identity.c.external_id == message.c.chat_id))
              .outerjoin(citizen, and_(citizen.c.office_id == office, citizen.c.id == citizen_identity.c.citizen_id))
              .outerjoin(dialog, and_(dialog.c.office_id == office, dialog.c.channel == message.c.channel,
                                      dialog.c.chat_id == message.c.chat_id)))
    columns = [message.c.id, message.c.channel, message.c.chat_id, message.c.payload]
    for model in _ENTITIES:
        table = model.__table__
        columns += [model.__mapper__.columns[key].label(f"{table.name}_{key}") for key in _COLUMNS[model]]
    statement = select(*columns, question.label("question")).select_from(joined)
    if many:
        firsts = (select(func.min(message.c.id))
                  .where(message.c.office_id == office, message.c.handled_at.is_(None),
                         tuple_(message.c.channel, message.c.chat_id).in_(bindparam("chats", expanding=True)))
                  .group_by(message.c.channel, message.c.chat_id))
        return statement.where(message.c.id.in_(firsts)).order_by(message.c.id)
    return (statement.where(message.c.office_id == office, message.c.channel == bindparam("channel"),
                            message.c.chat_id == bindparam("chat_id"), message.c.handled_at.is_(None))
            .order_by(message.c.id).limit(1))


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
