"""The citizen's verdict: solved -> a rating 1-5 and an optional comment close the case,
then (if the office runs it) the SKM survey, nine questions 1-4, each skippable."""
from __future__ import annotations

from flows.choices import choose
from flows.ikm import ELEMENTS
from flows.i18n import t
from flows.messages import Button, Outcome, Reply, rows
from storage.models import Rating

RATE, COMMENT, SKM = "rate", "rate_comment", "skm"
STEPS = (RATE, COMMENT, SKM)


def ask_rating(ticket: str, lang: str) -> tuple[dict, Outcome]:
    return ({"step": RATE, "ticket": ticket},
            Outcome([Reply(t(lang, "rate.ask", ticket=ticket),
                           rows(*[Button(str(n), f"rate|{n}") for n in range(1, 6)], per_row=5))]))


def _skm_question(state: dict, lang: str) -> Reply:
    n = state["i"]
    key, label_id, label_en = ELEMENTS[n]
    options = [Button(t(lang, f"skm.answer.{v}"), f"skm|{v}") for v in range(1, 5)]
    return Reply(t(lang, "skm.question", n=n + 1, element=label_id if lang == "id" else label_en),
                 rows(*options, Button(t(lang, "button.skip"), "skm|skip")))


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
        state = {"step": SKM, "ticket": case.ticket, "rating_id": rating.id, "i": 0, "answers": {}}
        return state, Outcome([thanks, Reply(t(lang, "skm.intro")), _skm_question(state, lang)])
    # SKM: one element at a time
    options = [Button(str(v), f"skm|{v}") for v in range(1, 5)] + [Button(t(lang, "button.skip"), "skm|skip")]
    picked = choose(inbound, options)
    if picked is None:
        return state, Outcome([Reply(t(lang, "intake.choice_unknown")), _skm_question(state, lang)])
    answers = dict(state["answers"])
    if picked != "skm|skip":
        answers[ELEMENTS[state["i"]][0]] = int(picked[4:])
        session.get(Rating, state["rating_id"]).skm = answers  # kept as it goes: a survey left half-way counts
    state = dict(state, i=state["i"] + 1, answers=answers)
    if state["i"] < len(ELEMENTS):
        return state, Outcome([_skm_question(state, lang)])
    return None, Outcome([Reply(t(lang, "skm.thanks")), conversation.menu(lang)])
