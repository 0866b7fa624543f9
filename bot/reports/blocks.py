"""The tables the monthly and the evaluation report share, built from a period's figures
(storage.reporting) in the reader's words (bot.reports.words), each with its definitions
printed under it: what a report says must be checkable from the report itself."""
from __future__ import annotations

from datetime import datetime

from bot.reports.document import Column, Signature, Table, Value, number_text
from flows.follow_up import follow_up_states
from flows.sla import parse_sla
from storage.follow_up import unit_stages


def ikm_of(f):
    """The period's satisfaction index: the one place the reports read it."""
    return f.ikm


def office_stages(workflow) -> list[str]:
    """The stages on the office's clock, in workflow order (`aduan workflow show`'s), not the
    citizen's waits."""
    return [s for s in workflow.ordered_states() if (workflow.states[s].sla or workflow.states[s].continues)
            and not workflow.states[s].pause_clock and set(workflow.states[s].actors) != {"citizen"}]


def sla_totals(f) -> tuple[int, int]:
    met = sum(v[0] for v in f.sla.values())
    return met, sum(sum(v) for v in f.sla.values())


def summary(w, f) -> Table:
    t = f.follow_up.total
    ikm = ikm_of(f)
    met, clocks = sla_totals(f)
    rows = [[w("sum.cases"), Value(f.total, "int"), ""],
            [w("sum.rate"), Value(t.rate, "pct"), w("sum.rate_of", followed=t.followed_up, counted=t.counted)],
            [w("sum.avg"), Value(t.avg_days, "dec1"), w("days")],
            [w("sum.open"), Value(t.open, "int"), w("sum.open_age", days=_dec1(w, t.open_avg_days))],
            [w("sum.sla"), Value(met / clocks if clocks else None, "pct"), w("sum.sla_of", met=met, clocks=clocks)],
            [w("sum.escalations"), Value(f.escalations, "int"), ""],
            [w("sum.ratings"), Value(f.ratings, "int"), w("sum.avg_score", score=_dec2(w, f.avg_score))],
            [w("sum.ikm"), Value(ikm.score if ikm and ikm.score is not None else None, "dec2"),
             _grade(w, ikm)]]
    return Table(w("summary"), [Column(w("col.item"), width=7), Column(w("col.value"), width=2.4),
                                Column(w("col.remark"), width=6)], rows)


def follow_up(w, f, as_of: datetime) -> Table:
    t = f.follow_up.total
    states = follow_up_states(w.workflow)
    share = (lambda n: n / t.counted if t.counted else None)  # noqa: E731
    rows = [[w("fu.received"), t.cases, None, None],
            [w("fu.referred", states=w.states(states.referred)), t.referred, None, None],
            [w("fu.rejected", states=w.states(states.rejected)), t.rejected, None, None],
            [w("fu.counted"), t.counted, share(t.counted), None],
            [w("fu.followed"), t.followed_up, share(t.followed_up), t.avg_days],
            [w("fu.ended", states=w.states(states.ended)), t.ended, share(t.ended), None],
            [w("fu.open"), t.open, share(t.open), t.open_avg_days]]
    note = w("fu.note", as_of=w.until(as_of), followed=w.states(states.followed_up),
             referred=w.states(states.referred), rejected=w.states(states.rejected),
             ended=w.states(states.ended), waiting=w.states(states.waiting))
    return Table(w("fu.title"), [Column(w("col.item"), width=8), Column(w("col.count"), "int", width=2),
                                 Column(w("col.share"), "pct", width=2), Column(w("col.days_avg"), "dec1", width=2.6)],
                 rows, note=note)


def units(w, f, as_of: datetime) -> Table | None:
    if not w.workflow.assigns_units:
        return None
    per = f.follow_up.units
    order = sorted((u for u in w.units), key=lambda u: w.units[u].name.lower())
    order += [u for u in per if u not in w.units and u is not None] + [None]
    rows = []
    for u in order:
        r = per.get(u)
        if r is None or not r.cases:
            if u is None:
                continue
            rows.append([w.unit(u), 0, 0, None, None, 0])
            continue
        rows.append([w.unit(u), r.cases, r.followed_up, r.rate, r.avg_days, r.overdue])
    t = f.follow_up.total
    note = w("units.note", stages=w.states(unit_stages(w.workflow)), as_of=w.until(as_of))
    return Table(w("units.title"), [Column(w("col.unit"), width=5.6), Column(w("col.cases"), "int", width=1.7),
                                    Column(w("col.followed"), "int", width=2.7), Column(w("col.rate"), "pct", width=2.1),
                                    Column(w("col.days_avg"), "dec1", width=2.5),
                                    Column(w("col.overdue"), "int", width=2.0)],
                 rows, note=note, total=[w("total"), t.cases, t.followed_up, t.rate, t.avg_days, t.overdue])


def breakdowns(w, f) -> list[Table]:
    wf = w.workflow
    kinds = ["pengaduan", "aspirasi", "permintaan_informasi"]
    by_kind = [(k, f.by_kind[k]) for k in kinds if k in f.by_kind] + \
              [(k, n) for k, n in f.by_kind.items() if k not in kinds]
    cats = list(w.categories)
    by_cat = [(c, f.by_category[c]) for c in cats if c in f.by_category] + \
             sorted(((c, n) for c, n in f.by_category.items() if c not in cats), key=lambda x: (x[0] == "-", x[0]))
    by_channel = sorted(f.by_channel.items(), key=lambda x: (-x[1], x[0]))
    by_state = [(s, f.by_state[s]) for s in wf.ordered_states() if s in f.by_state] + \
               [(s, n) for s, n in f.by_state.items() if s not in wf.states]
    tables = []
    for key, pairs, label in (("kind", by_kind, w.kind), ("category", by_cat, w.category),
                              ("channel", by_channel, w.channel), ("state", by_state, w.state)):
        rows = [[label(k), n, n / f.total if f.total else None] for k, n in pairs]
        tables.append(Table(w(f"by.{key}"), [Column(w(f"col.{key}"), width=10), Column(w("col.count"), "int", width=2.5),
                                             Column(w("col.share"), "pct", width=2.5)], rows,
                            total=[w("total"), f.total, 1.0 if f.total else None] if rows else None,
                            note=w("by.state_note") if key == "state" else ""))
    return tables


def sla(w, f, as_of: datetime) -> Table:
    rows = []
    for stage in office_stages(w.workflow):
        met, missed, overdue = f.sla.get(stage, (0, 0, 0))
        total = met + missed + overdue
        rows.append([w.state(stage), w.sla(stage), met, missed, overdue, met / total if total else None])
    met, clocks = sla_totals(f)
    return Table(w("sla.title"), [Column(w("col.stage"), width=4.4), Column(w("col.limit"), width=3.2),
                                  Column(w("col.on_time"), "int", width=2.0), Column(w("col.late"), "int", width=2.0),
                                  Column(w("col.still_late"), "int", width=2.6),
                                  Column(w("col.on_time_rate"), "pct", width=2.2)],
                 rows, note=w("sla.note", as_of=w.until(as_of)),
                 total=[w("total"), "", met, sum(v[1] for v in f.sla.values()), sum(v[2] for v in f.sla.values()),
                        met / clocks if clocks else None])


def ratings(w, f) -> Table:
    ikm = ikm_of(f)
    rows = [[w("rating.given"), Value(f.ratings, "int")],
            [w("rating.solved"), Value(f.solved / f.ratings if f.ratings else None, "pct")],
            [w("rating.avg"), Value(f.avg_score, "dec2")],
            [w("rating.respondents"), Value(ikm.respondents if ikm else 0, "int")],
            [w("rating.ikm"), Value(ikm.score if ikm and ikm.score is not None else None, "dec2")],
            [w("rating.grade"), _grade(w, ikm) or "-"]]
    return Table(w("rating.title"), [Column(w("col.item"), width=10), Column(w("col.value"), width=5)], rows,
                 note=w("rating.note"))


def escalations(w, rows, after: str | None) -> Table:
    cal = w.calendar
    body = [[ticket, cal.local(created), cal.local(at), w.state(state)] for ticket, created, at, state in rows]
    note = w("esc.note", after=parse_sla(after).label(w.lang)) if after else ""
    return Table(w("esc.title"), [Column(w("col.ticket"), width=3.2), Column(w("col.received"), "datetime", width=3),
                                  Column(w("col.escalated"), "datetime", width=3), Column(w("col.state"), width=4)],
                 body, note=note, empty=w("esc.none"))


def signature(w, office, when: datetime) -> Signature:
    place = f"{office.city}, {w.day(when)}" if office.city else w.day(when)
    note = w("sign.nip", nip=office.head_nip) if office.head_nip else ""
    return Signature(place, office.head_title or w.leadership(), office.head_name, note)


def _dec1(w, x) -> str:
    return number_text(x, "dec1", w.lang)


def _dec2(w, x) -> str:
    return number_text(x, "dec2", w.lang)


def _grade(w, ikm) -> str:
    if not ikm or not ikm.grade:
        return ""
    return w("rating.grade_text", grade=ikm.grade, quality=w(f"quality.{ikm.grade}"))
