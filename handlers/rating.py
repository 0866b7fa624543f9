"""The citizen's verdict: solved -> a rating 1-5 and an optional comment close the case,
then (if the office runs it) the SKM survey of handlers.survey, about the case's service
and unit."""
from __future__ import annotations

from flows.choices import choose
from flows.i18n import t
from flows.messages import Button, Outcome, Reply, rows
from handlers import survey
from storage.models import Rating

RATE, COMMENT = "rate", "rate_comment"
STEPS = (RATE, COMMENT)


def ask_rating(ticket: str, lang: str) -> tuple[dict, Outcome]:
    return ({"step": RATE, "ticket": ticket},
            Outcome([Reply(t(lang, "rate.ask", ticket=ticket),
                           rows(*[Button(str(n), f"rate|{n}") for n in range(1, 6)], per_row=5))]))


def step(conversation, session, citizen, inbound, state: dict, lang: str, now) -> tuple[dict | None, Outcome]:
    """One answer in the rating dialog."""
    if state["step"] == RATE:
        picked = choose(inbound, [Button(str(n), f"rate|{n}") for n in range(1, 6)])
        if picked is None:
            return state, Outcome([Reply(t(lang, "rate.again")), ask_rating(state["ticket"], lang)[1].replies[0]])
        state = dict(state, step=COMMENT, score=int(picked[5:]))
        return state, Outcome([Reply(t(lang, "rate.comment"), rows(Button(t(lang, "button.skip"), "skip")))])
    if state["step"] == COMMENT:
        skipped = choose(inbound, [Button(t(lang, "button.skip"), "skip")]) == "skip"
        comment = None if skipped else (inbound.plain_text or None)
        case = conversation._own_case(session, citizen, state["ticket"])
        if case is None or conversation.office.cases.workflow_of(case).transition("accept", case.state) is None:
            return None, Outcome([Reply(t(lang, "case.moved_on", ticket=state["ticket"])), conversation.menu(lang)])
        # The rating first: the notice to the officers says the score and the comment.
        rating = Rating(case_id=case.id, solved=True, score=state["score"], comment=comment, created_at=now)
        session.add(rating)
        session.flush()
        conversation._citizen_fires(session, case, "accept", None, now)
        thanks = Reply(t(lang, "case.accepted", ticket=case.ticket))
        if not conversation.office.skm_survey:
            return None, Outcome([thanks, conversation.menu(lang)])
        state, out = survey.begin(conversation, session, citizen, inbound, lang, now, case=case)
        return state, Outcome([thanks] + out.replies)
