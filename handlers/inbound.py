"""One stored inbound message, handled in one transaction: the conversation's changes,
every reply as an outbox row, and the row's "handled" mark (storage.inbound).

A chat linked to an officer talks to the officers' conversation; `/petugas CODE` links
one; everyone else talks to the citizens' conversation. A typed answer ("1", "belum",
a label) to the choices the chat was last given is read as that choice first, whoever
asked it (the form, a case update, a card): a numbered list is all WhatsApp shows.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from flows.choices import MAX_CHARS, pick
from flows.i18n import language, t
from flows.messages import Inbound, Reply
from handlers.citizen import CitizenConversation
from handlers.notify import officers_in, send_to_officer
from handlers.officer import OfficerConversation
from storage import inbound as inbound_log
from storage.errors import StorageError
from storage.officers import (count_wrong_enrolment, enrol_guessers, enrol_throttled, link_code,
                              linked_identity, officer_for_code, redeem)
from storage.outbox import batched, enqueue, last_question, release_held

log = logging.getLogger(__name__)
ENROL = ("petugas", "officer")
LINK = ("webchat",)  # an enrolled officer asks for a code to use the web chat too


def handle(session: Session, citizens: CitizenConversation, officers: OfficerConversation, row, now: datetime,
           batch: bool = True) -> None:
    """Handle one stored delivery (the worker holds its chat): the conversation's changes,
    every reply as an outbox row, and the "handled" mark, all in the caller's transaction.
    The replies go in one statement (`batch`; False: one each, the reference the
    equivalence test compares with)."""
    inbound = inbound_log.inbound_of(row)
    if inbound is not None:
        replies = route(session, citizens, officers, inbound, now)
        with batched(session) if batch else nullcontext():
            for reply in replies:
                enqueue(session, inbound.channel, inbound.chat_id, reply, now=now)
    inbound_log.mark_handled(session, row, inbound, now)


def set_aside(session: Session, office, row, tries: int, now: datetime) -> None:
    """A message that failed `tries` times was set aside: the coordinators hear of it (the
    channel and the row's number; nothing of what it said, which is gone anyway)."""
    roles = office.workflow.roles_of_kind("coordinator")
    log.error("inbound #%s on %s set aside after %s tries", row.id, row.channel, tries)
    for officer in officers_in(session, roles):
        send_to_officer(session, officer, Reply(t(officer.language, "officer.inbound_set_aside", number=row.id,
                                                  channel=t(officer.language, f"channel.{row.channel}"),
                                                  tries=tries)), None, now)


def route(session, citizens, officers, inbound: Inbound, now) -> list[Reply]:
    identity = linked_identity(session, inbound.channel, inbound.chat_id)
    if identity is not None:
        officer = identity.officer
        if not officer.active:
            log.info("refused: revoked officer #%s wrote on %s", officer.id, inbound.channel)
            return [Reply(t(officer.language, "officer.revoked"))]
        if inbound.event != "message":
            return []
        identity.last_inbound_at = now  # officers have a WhatsApp window too
        _window_opened(session, inbound, now)
        command = inbound.command
        if identity.confirmed_at is None:  # only a cookie says who this is: no case data
            if command and command[0] in ENROL and command[1]:
                return _enrol(session, officers, inbound, command[1], now)
            return [Reply(t(officer.language, "officer.confirm_needed"))]
        if command and command[0] in LINK:
            return _link_code(session, officers, identity, now)
        inbound, question = answered(session, inbound)
        return officers.handle(session, officer, inbound, now, question)
    command = inbound.command
    if command and command[0] in ENROL:
        return _enrol(session, officers, inbound, command[1], now)
    if inbound.event == "message":
        _window_opened(session, inbound, now)
    inbound, question = answered(session, inbound)
    return citizens.handle(session, inbound, now, question)


def _window_opened(session, inbound: Inbound, now) -> None:
    """Someone wrote on WhatsApp: for 24 hours we may write back, so what waited may go."""
    if inbound.channel == "whatsapp":
        release_held(session, inbound.channel, inbound.chat_id, now)


def answered(session, inbound: Inbound) -> tuple[Inbound, Reply | None]:
    """(the inbound, with a typed answer read as the button it names; the question the chat
    was last given, if it offered choices)."""
    if inbound.button is not None or inbound.event != "message":
        return inbound, None
    text = inbound.plain_text
    if not text or len(text) > MAX_CHARS:
        return inbound, None
    question = last_question(session, inbound.channel, inbound.chat_id)
    if question is None:
        return inbound, None
    picked = pick(text, question.options)
    # A question whose text was cleared (storage.privacy) still tells what "1" means, but
    # it cannot be asked again: an unclear answer gets the menu instead.
    return (replace(inbound, button=picked) if picked is not None else inbound), (question if question.text else None)


def _enrol(session, officers: OfficerConversation, inbound: Inbound, code: str, now) -> list[Reply]:
    lang = language(inbound.language_hint)
    if not code:
        return [Reply(t(lang, "officer.enrol_usage"))]
    guessers = enrol_guessers(inbound.channel, inbound.chat_id, inbound.origin)
    if enrol_throttled(session, guessers, now):  # the code is not even looked at
        log.info("refused: too many wrong enrolment codes, on %s", inbound.channel)
        return [Reply(t(lang, "officer.enrol_throttled"))]
    cookie_only = officers.office.cookie_channels
    if inbound.channel in cookie_only:
        # A cookie proves nothing: an officer here must already be enrolled in a chat app,
        # and the code comes from there (/webchat), so that app vouches for this browser.
        officer = officer_for_code(session, code)
        if officer is not None and not any(i.channel not in cookie_only and i.confirmed_at for i in officer.identities):
            log.info("refused: web chat enrolment of officer #%s without another chat", officer.id)
            return [Reply(t(lang, "officer.enrol_cookie_refused"))]
    try:
        with session.begin_nested():
            officer = redeem(session, code, inbound.channel, inbound.chat_id, now=now)
    except StorageError:
        log.info("refused: an enrolment code that does not work, on %s", inbound.channel)
        count_wrong_enrolment(session, guessers, now)  # outside the savepoint: it stays
        return [Reply(t(lang, "officer.enrol_failed"))]
    officer.language = lang
    role = officers.office.workflow.roles[officer.role]
    log.info("officer #%s enrolled on %s", officer.id, inbound.channel)
    return [Reply(t(lang, "officer.enrolled", role=role.label_id if lang == "id" else role.label_en)),
            officers.help(officer)]


def _link_code(session, officers: OfficerConversation, identity, now) -> list[Reply]:
    """/webchat from an officer's chat app: a code, valid minutes, to type on the web chat."""
    officer, lang = identity.officer, identity.officer.language
    if identity.channel in officers.office.cookie_channels:
        return [Reply(t(lang, "officer.link_from_app"))]
    code = link_code(session, officer, now)
    log.info("officer #%s asked for a web chat code on %s", officer.id, identity.channel)
    return [Reply(t(lang, "officer.link_code", code=code, minutes=10))]
