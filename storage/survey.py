"""Survey responses (SKM) and the satisfaction index (IKM) computed from them.

`period_ikm` is the one place that says what the IKM of a period is, of the whole office or
of one service or unit: sums and counts per element in SQL, then flows.ikm's exact math
(Fractions, exactly 1/9). `ikm_by` gives it per service or per unit in one query,
`profile_counts` the respondents' profile. A respondent is a response with at least one
element answered (flows.ikm.compute's rule): a survey left after the profile counts in no
table. Periods are [start, end) instants; callers turn office days into them.

One response per chat per service per office day: `open_response` refuses a second one
that day once the first has an answer, and reuses a first that has none (someone who
began and left can begin again).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from flows.ikm import Ikm, from_totals
from storage.models_survey import ELEMENT_COLUMNS, PROFILE_COLUMNS, SurveyResponse

_ANY = object()  # "no filter", where None is a value (responses without a service or unit)
COLUMNS = {"service": SurveyResponse.service, "unit": SurveyResponse.unit_id}


def _answered():
    """The response has an answer to at least one element: a respondent."""
    return or_(*(getattr(SurveyResponse, u).is_not(None) for u in ELEMENT_COLUMNS))


# -- answering -------------------------------------------------------------------------------
ANSWERED, LIMITED = "answered", "limited"


def open_response(session: Session, *, citizen_id: int, channel: str, service: str | None,
                  case_id: int | None, unit_id: int | None, day_start: datetime, now: datetime,
                  may_create=lambda: True) -> SurveyResponse | str:
    """Today's response of this citizen for this service, to answer into (`day_start`: the
    office's midnight), or ANSWERED: they answered for it today already. `may_create()` is
    asked only when a new row would be written (an abuse limit); False: LIMITED, no row."""
    today = session.scalars(select(SurveyResponse).where(
        SurveyResponse.citizen_id == citizen_id, SurveyResponse.created_at >= day_start,
        SurveyResponse.service.is_(None) if service is None else SurveyResponse.service == service)
        .order_by(SurveyResponse.id)).all()
    if any(any(getattr(r, u) is not None for u in ELEMENT_COLUMNS) for r in today):
        return ANSWERED
    if today:  # begun and left before the first element: begun again, from a clean sheet
        response = today[0]
        for column in PROFILE_COLUMNS:
            setattr(response, column, None)
        response.channel, response.case_id, response.unit_id = channel, case_id, unit_id
        return response
    if not may_create():
        return LIMITED
    response = SurveyResponse(citizen_id=citizen_id, channel=channel, service=service, case_id=case_id,
                              unit_id=unit_id, created_at=now)
    session.add(response)
    session.flush()
    return response


def record(session: Session, response_id: int, column: str, value) -> None:
    """One answer, kept as it is given: a survey left half-way counts for what it holds."""
    if column not in ELEMENT_COLUMNS + PROFILE_COLUMNS:
        raise ValueError(column)
    response = session.get(SurveyResponse, response_id)
    if response is not None:  # erased meanwhile: nothing to answer into
        setattr(response, column, value)


# -- the index -------------------------------------------------------------------------------
def _totals(session: Session, start: datetime, end: datetime, group=None, where=()):
    sums = [func.sum(getattr(SurveyResponse, u)) for u in ELEMENT_COLUMNS]
    counts = [func.count(getattr(SurveyResponse, u)) for u in ELEMENT_COLUMNS]
    keys = [group] if group is not None else []
    query = (select(*keys, func.count(), *counts, *sums)
             .where(SurveyResponse.created_at >= start, SurveyResponse.created_at < end, _answered(), *where))
    if group is not None:
        query = query.group_by(group)
    for row in session.execute(query):
        key, (respondents, *rest) = (row[0], row[1:]) if group is not None else (None, row)
        n = len(ELEMENT_COLUMNS)
        answers = dict(zip(ELEMENT_COLUMNS, (int(c) for c in rest[:n])))
        totals = dict(zip(ELEMENT_COLUMNS, (int(s or 0) for s in rest[n:])))
        yield key, from_totals(int(respondents), answers, totals)


def period_ikm(session: Session, start: datetime, end: datetime, *, service=_ANY, unit_id=_ANY) -> Ikm:
    """The IKM of the responses given in [start, end): all, or of one service (a category id,
    or None for "not said") and/or one unit (an id, or None for "no unit")."""
    where = []
    for column, value in ((SurveyResponse.service, service), (SurveyResponse.unit_id, unit_id)):
        if value is not _ANY:
            where.append(column.is_(None) if value is None else column == value)
    for _, ikm in _totals(session, start, end, where=where):
        return ikm
    return from_totals(0, {}, {})


def ikm_by(session: Session, start: datetime, end: datetime, by: str) -> dict:
    """{service id or unit id (None: not said / no unit): its Ikm}, for `by` "service" or "unit"."""
    return dict(_totals(session, start, end, group=COLUMNS[by]))


def profile_counts(session: Session, start: datetime, end: datetime) -> dict[str, Counter]:
    """{profile column: Counter(code or None -> respondents)} of the respondents in [start, end)."""
    out = {}
    for column in PROFILE_COLUMNS:
        col = getattr(SurveyResponse, column)
        out[column] = Counter(dict(session.execute(
            select(col, func.count()).where(SurveyResponse.created_at >= start, SurveyResponse.created_at < end,
                                            _answered()).group_by(col)).all()))
    return out
