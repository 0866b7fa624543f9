"""A citizen asks, from the chat, for their data to be erased (/hapus, /delete).

The bot does not erase on its own word: a chat can be someone else's phone, and an
erasure cannot be undone. It asks once more, records the request, tells the coordinators
(the request's number and ticket numbers, nothing personal) and an admin confirms it with
`aduan privacy erase --request N` (bot/cli/privacy.py).
"""
from __future__ import annotations

from flows.choices import choose
from flows.i18n import t
from flows.messages import Button, Outcome, Reply, rows
from handlers import notify
from storage import privacy

COMMANDS = ("hapus", "delete")
STEP = "erase_confirm"
YES, NO = "erase|yes", "erase|no"


def _question(lang: str) -> Reply:
    return Reply(t(lang, "erase.confirm"), rows(Button(t(lang, "erase.button_yes"), YES),
                                                 Button(t(lang, "erase.button_no"), NO)))


def ask(lang: str) -> tuple[dict, Outcome]:
    return {"step": STEP}, Outcome([_question(lang)])


def step(conversation, session, citizen, inbound, state: dict, lang: str, now) -> tuple[dict | None, Outcome]:
    """The answer to "delete your data?"."""
    office = conversation.office
    picked = choose(inbound, [Button(t(lang, "erase.button_yes"), YES), Button(t(lang, "erase.button_no"), NO)])
    if picked == NO:
        return None, Outcome([Reply(t(lang, "erase.kept")), conversation.menu(lang)])
    if picked != YES:
        return state, Outcome([Reply(t(lang, "choice_unclear")), _question(lang)])
    request, new = privacy.request_erasure(session, citizen, inbound.channel, now)
    if not new:
        return None, Outcome([Reply(t(lang, "erase.already", id=request.id)), conversation.menu(lang)])
    notify.erasure_requested(session, office, request.id, privacy.tickets_of(session, citizen, None), now)
    return None, Outcome([Reply(t(lang, "erase.requested", id=request.id, contacts=office.contacts or office.name))])
