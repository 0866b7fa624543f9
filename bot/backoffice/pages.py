"""The back office's pages: my queue and my unit's, search, the case (with its
files inline), the leadership dashboard, and the reports to download. What a page may
show is what the chat shows the same officer (bot.backoffice.data, handlers.desk); the
case page's forms are bot.backoffice.actions."""
from __future__ import annotations

import io
import re
from datetime import date

from babel.dates import format_date
from flask import abort, g, render_template, request, send_file

from bot.backoffice import auth, charts, data
from bot.files import serve
from bot.reports import blocks
from bot.reports.document import number_text
from bot.reports.monthly import month_bounds
from bot.reports.words import Words
from flows.calendar import zone_abbreviation
from flows.case_fields import Channel
from flows.errors import DomainError
from flows.i18n import t
from flows.sla import parse_sla
from handlers import files
from handlers.desk_views import CaseNotFound
from handlers.words import action_label, actor_name
from storage.units import list_units

MONTH = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$")
FORMATS = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def abilities(rt, officer) -> dict:
    """What this officer's role may open beyond cases (the chat's rules: LAPOR! is the
    coordinators'; the reports are for coordinators and the leadership)."""
    kind = rt.workflow.roles[officer.role].kind if officer.role in rt.workflow.roles else ""
    return {"admin": kind == "coordinator", "reports": kind in ("coordinator", "leadership"),
            "lapor": kind == "coordinator", "leadership": kind == "leadership",
            "unit_bound": data.unit_bound(rt.conversation.office, officer)}


def _now_and_office():
    rt = auth.office()
    return rt, rt.conversation.office, g.officer, rt.clock()


def _helpers(rt, units) -> dict:
    cal, lang = rt.calendar, g.lang
    zone = zone_abbreviation(cal.timezone_name)
    return {"w": Words(rt, lang, {u.id: u for u in units}), "units": units,
            "at": lambda dt: f"{number_text(cal.local(dt), 'datetime', lang)} {zone}" if dt else "-",
            "num": lambda v, kind="int": number_text(v, kind, lang)}


def _page() -> int:
    value = request.args.get("hal", "1")
    return max(0, int(value) - 1) if value.isdigit() and 0 < int(value) < 10_000 else 0


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def register(bp) -> None:
    @bp.get("/")
    def home():
        rt, office, officer, now = _now_and_office()
        return dashboard() if abilities(rt, officer)["leadership"] else my_queue()

    @bp.get("/antrian", endpoint="queue")
    def my_queue():
        rt, office, officer, now = _now_and_office()
        page = _page()
        with rt.sessions() as s:
            rows, total = data.queue(s, office, officer, now, page)
            units = list_units(s)
        return render_template("kantor/queue.html", rows=rows, total=total, page=page, size=data.PAGE,
                               title="queue.mine", mine=True, **_helpers(rt, units))

    @bp.get("/antrian/unit")
    def unit_queue():
        rt, office, officer, now = _now_and_office()
        page, unit = _page(), request.args.get("unit", "")
        with rt.sessions() as s:
            rows, total = data.queue(s, office, officer, now, page, mine=False,
                                     unit_id=int(unit) if unit.isdigit() else None)
            units = list_units(s)
        return render_template("kantor/queue.html", rows=rows, total=total, page=page, size=data.PAGE,
                               title="queue.unit", mine=False, chosen_unit=unit, **_helpers(rt, units))

    @bp.get("/cari")
    def search():
        rt, office, officer, now = _now_and_office()
        a = request.args
        f = data.Filters(ticket=a.get("tiket", "")[:40], state=a.get("status", ""), category=a.get("kategori", ""),
                         channel=a.get("kanal", ""), since=_date("dari"), until=_date("sampai"),
                         overdue=a.get("terlambat") == "1", text=a.get("teks", "")[:200],
                         unit=int(a["unit"]) if a.get("unit", "").isdigit() else None)
        page, rows, total = _page(), [], 0
        with rt.sessions() as s:
            if f.any:
                rows, total = data.search(s, office, officer, f, now, page)
            units = list_units(s)
        return render_template("kantor/search.html", f=f, rows=rows, total=total, page=page, size=data.PAGE,
                               states=rt.workflow.ordered_states(), categories=office.categories,
                               channels=[c.value for c in Channel], **_helpers(rt, units))

    @bp.get("/kasus/<ticket>")
    def case(ticket):
        rt, office, officer, now = _now_and_office()
        with rt.sessions() as s:
            try:  # what the officer may do now, as the chat's card has it
                desk_view = rt.officers.desk.case(s, officer, ticket, now)
            except CaseNotFound:  # unknown, or another unit's: the same answer
                abort(404)
            found = data.case_by_ticket(s, office, officer, desk_view.ticket)
            if found is None:
                abort(404)
            view = data.case_view(s, office, found, officer)
            units = list_units(s)
            unit_choices = rt.officers.desk.units(s) if any(a.needs == "unit" for a in desk_view.actions) else ()
        wf, lang = office.cases.workflow_of(found), g.lang
        if found.privacy == "anonim" or found.citizen is None:
            reporter = t(lang, "officer.card.anonymous") if found.privacy == "anonim" else "-"
        else:
            c = found.citizen
            reporter = ", ".join(x for x in (c.name, c.phone, c.email) if x) or "-"
        return render_template("kantor/case.html", v=view, d=desk_view, unit_choices=unit_choices, c=found, wf=wf, now=now, inline=data.shown_inline,
                               reporter=reporter, privacy=t(lang, f"privacy.{found.privacy}"),
                               act=lambda e: action_label(wf, e, lang, officer_view=True),
                               who=lambda e: actor_name(wf, e, view.officers, lang),
                               flabel=lambda a: files.label(a, lang), sla=lambda text: _sla(text, lang),
                               **_helpers(rt, units))

    @bp.get("/lampiran/<int:attachment_id>")
    def attachment(attachment_id):
        rt, office, officer, now = _now_and_office()
        with rt.sessions() as s:
            found = data.attachment_of(s, office, officer, attachment_id)
        if found is None:
            abort(404)
        return serve(rt, found[0], g.lang)

    @bp.get("/dasbor")
    def dashboard():
        rt, office, officer, now = _now_and_office()
        cal, lang = rt.calendar, g.lang
        month = request.args.get("bulan", "")
        month = month if MONTH.match(month) else f"{cal.local(now):%Y-%m}"
        start, end = month_bounds(cal, month)
        as_of = max(start, min(end, now))
        with rt.sessions() as s:
            f = data.period(s, rt, start, end, now)
            units = list_units(s)
        h = _helpers(rt, units)
        w = h["w"]
        labels = {st: w.state(st) for st in rt.workflow.states}
        weekly = charts.weekly(f.weekly, rt.workflow.ordered_states(), labels,
                               lambda d: format_date(d, "d MMM", locale=lang), _t("dash.weekly"), _t("dash.none"))
        on_time = []
        for stage in blocks.office_stages(rt.workflow):
            met, missed, overdue = f.sla.get(stage, (0, 0, 0))
            n = met + missed + overdue
            on_time.append((w.state(stage), met / n if n else None,
                            f"{number_text(met / n, 'pct', lang)} ({met}/{n})" if n else "-"))
        per_unit = [(w.unit(u), r.rate, f"{number_text(r.rate, 'pct', lang)} ({r.followed_up}/{r.counted})")
                    for u, r in sorted(f.follow_up.units.items(), key=lambda x: w.unit(x[0]).lower()) if r.cases]
        tables = [blocks.summary(w, f), blocks.follow_up(w, f, as_of), blocks.units(w, f, as_of),
                  blocks.sla(w, f, as_of), blocks.ratings(w, f)]
        met, clocks = blocks.sla_totals(f)
        return render_template(
            "kantor/dashboard.html", f=f, month=month, period=w.month(start), tables=[x for x in tables if x],
            weekly=weekly, on_time=charts.shares(on_time, _t("dash.sla"), _t("dash.none")),
            per_unit=charts.shares(per_unit, _t("dash.units"), _t("dash.none")) if rt.workflow.assigns_units else None,
            sla_rate=met / clocks if clocks else None, **h)

    @bp.get("/laporan")
    def reports():
        rt, office, officer, now = _now_and_office()
        if not abilities(rt, officer)["reports"]:
            abort(403)
        from bot.reports.monthly import last_full_month

        local = rt.calendar.local(now)
        return render_template("kantor/reports.html", month=last_full_month(rt.calendar, now), year=local.year - 1,
                               first=local.replace(day=1).date().isoformat(), last=local.date().isoformat())

    @bp.get("/laporan/unduh")
    def download():
        rt, office, officer, now = _now_and_office()
        can, a = abilities(rt, officer), request.args
        kind, fmt = a.get("jenis", ""), a.get("format", "pdf")
        if not can["reports"] or (kind == "lapor" and not can["lapor"]):
            abort(403)
        if fmt not in FORMATS:
            abort(400)
        out = io.BytesIO()
        if kind in ("bulanan", "lapor"):
            month = a.get("bulan", "")
            if not MONTH.match(month):
                abort(400)
            if kind == "bulanan":
                from bot.reports.monthly import write

                write(rt, month, fmt, out, g.lang)
            else:
                if fmt == "pdf":
                    abort(400)
                from bot.reports.lapor import write

                write(rt, month, fmt, out, g.lang)
            name = f"{'laporan' if kind == 'bulanan' else 'lapor'}-{month}.{fmt}"
        elif kind == "ikm":
            first, last = _date("dari"), _date("sampai")
            if first is None or last is None or last < first:
                abort(400)
            from bot.reports.ikm import write

            write(rt, first, last, fmt, out, g.lang)
            name = f"ikm-{first:%Y%m%d}-{last:%Y%m%d}.{fmt}"
        elif kind == "evaluasi":
            year = a.get("tahun", "")
            if not (year.isdigit() and 2000 <= int(year) <= 2100):
                abort(400)
            from bot.reports.evaluation import build
            from bot.reports.document import write as write_document

            write_document(build(rt, int(year), g.lang)[0], fmt, out)
            name = f"evaluasi-{year}.{fmt}"
        else:
            abort(404)
        out.seek(0)
        return send_file(out, mimetype=FORMATS[fmt], as_attachment=True, download_name=name, max_age=0)


def _sla(text: str, lang: str) -> str:
    """"5 hari kerja" for the stored "5 working days" (as stored, if it no longer parses)."""
    try:
        return parse_sla(text).label(lang)
    except DomainError:
        return text


def _t(key: str) -> str:
    return t(g.lang, f"kantor.{key}")
