"""The SKM report in the layout of PermenPAN-RB 14/2017: per element the answers, NRR and
weighted NRR (NRR x 1/9) summing to the IKM; the IKM, its converted score (IKM x 25), the
service quality and unit performance; the regulation's table of intervals; the respondents'
profile; the IKM per service and per work unit. One Document (bot.reports.document), so
csv, xlsx and the A4 PDF say the same. The figures come from storage.survey."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

from babel.dates import format_date

from bot.reports.document import Column, Document, Signature, Table, write as write_document
from flows import skm
from flows.i18n import t
from flows.ikm import ELEMENTS, Ikm, converted, grade
from storage import survey
from storage.units import list_units

# The regulation's table: perception value, IKM interval, converted interval, quality.
SCALE = ((1, "1,00 – 2,5996", "25,00 – 64,99", "D"), (2, "2,60 – 3,064", "65,00 – 76,60", "C"),
         (3, "3,0644 – 3,532", "76,61 – 88,30", "B"), (4, "3,5324 – 4,00", "88,31 – 100,00", "A"))


def _dec(value: Fraction | None) -> Decimal | None:
    """A Fraction as a Decimal the document rounds half up (28 digits: exact enough)."""
    return None if value is None else Decimal(value.numerator) / Decimal(value.denominator)


def bounds(cal, first: date, last: date) -> tuple[datetime, datetime]:
    """Office days first..last (both included) as [start, end) instants."""
    return (datetime.combine(first, time.min, cal.tz), datetime.combine(last + timedelta(days=1), time.min, cal.tz))


def build(runtime, first: date, last: date, lang: str = "id") -> tuple[Document, Ikm]:
    cal, office = runtime.calendar, runtime.settings.office.name
    start, end = bounds(cal, first, last)
    with runtime.sessions() as s:
        overall = survey.period_ikm(s, start, end)
        by_service = survey.ikm_by(s, start, end, "service")
        by_unit = survey.ikm_by(s, start, end, "unit")
        profile = survey.profile_counts(s, start, end)
        units = {u.id: u.name for u in list_units(s)}
    shown = lambda d: format_date(d, "d MMMM y", locale=lang)  # noqa: E731
    doc = Document(t(lang, "ikm.title"), office, t(lang, "ikm.period", start=shown(first), end=shown(last)),
                   lang=lang, generated=cal.local(runtime.clock()))
    doc.blocks = [_elements(overall, lang), _summary(overall, lang), _scale(lang),
                  _profile(profile, overall, lang), _per_service(runtime, by_service, lang),
                  _per("ikm.by_unit", "ikm.col.unit", _unit_rows(by_unit, units, lang), lang,
                       note=t(lang, "ikm.by_unit_note"))]
    today = cal.local(runtime.clock()).date()
    doc.signature = Signature(shown(today), t(lang, "ikm.signed_by", office=office))
    return doc, overall


def write(runtime, first: date, last: date, fmt: str, path_or_file, lang: str = "id") -> Ikm:
    doc, overall = build(runtime, first, last, lang)
    write_document(doc, fmt, path_or_file)
    return overall


def _quality(score: Decimal | None, lang) -> tuple[str | None, str | None]:
    """(letter, words) of a converted score, in the report's language."""
    if score is None:
        return None, None
    letter = grade(score)[0]
    return letter, t(lang, f"ikm.quality.{letter}")


def _elements(ikm: Ikm, lang) -> Table:
    rows = []
    for key, label_id, label_en in ELEMENTS:
        nrr = ikm.nrr[key]
        letter, _ = _quality(converted(nrr) if nrr is not None else None, lang)
        total = nrr * ikm.answers[key] if nrr is not None else 0
        rows.append([key.upper(), label_id if lang == "id" else label_en, ikm.answers[key], int(total),
                     _dec(nrr), _dec(nrr / 9) if nrr is not None else None, letter])
    total = ["IKM", t(lang, "ikm.elements_total"), None, None,
             _dec(sum(ikm.nrr.values(), Fraction(0))) if ikm.index is not None else None, _dec(ikm.index), ikm.grade]
    return Table(t(lang, "ikm.elements"), [
        Column(t(lang, "ikm.col.code"), width=0.6), Column(t(lang, "ikm.col.element"), width=3.2),
        Column(t(lang, "ikm.col.answers"), "int"), Column(t(lang, "ikm.col.total"), "int"),
        Column(t(lang, "ikm.col.nrr"), "dec4"), Column(t(lang, "ikm.col.weighted"), "dec4", width=1.3),
        Column(t(lang, "ikm.col.quality"), width=1.2)], rows, note=t(lang, "ikm.elements_note"), total=total)


def _summary(ikm: Ikm, lang) -> Table:
    _, words = _quality(ikm.score, lang)
    return Table(t(lang, "ikm.summary"), [
        Column(t(lang, "ikm.col.respondents"), "int"), Column(t(lang, "ikm.col.index"), "dec4"),
        Column(t(lang, "ikm.col.score"), "dec2", width=1.4), Column(t(lang, "ikm.col.quality")),
        Column(t(lang, "ikm.col.performance"), width=1.4)],
        [[ikm.respondents, _dec(ikm.index), ikm.score, ikm.grade, words]], note=t(lang, "ikm.summary_note"))


def _scale(lang) -> Table:
    dots = (lambda x: x.replace(",", ".")) if lang == "en" else (lambda x: x)  # noqa: E731
    return Table(t(lang, "ikm.scale"), [
        Column(t(lang, "ikm.col.perception"), "int"), Column(t(lang, "ikm.col.interval"), width=1.3),
        Column(t(lang, "ikm.col.converted"), width=1.3), Column(t(lang, "ikm.col.quality")),
        Column(t(lang, "ikm.col.performance"))],
        [[n, dots(ni), dots(nik), letter, t(lang, f"ikm.quality.{letter}")] for n, ni, nik, letter in SCALE])


def _profile(profile: dict, ikm: Ikm, lang) -> Table:
    """Every category of each characteristic (age group, sex, education, occupation), and
    those who did not say; the characteristic on every row, so a spreadsheet can filter it."""
    n, rows = ikm.respondents, []
    for column, codes in skm.PROFILE.items():
        counts = profile.get(column, {})
        rows += [[t(lang, f"ikm.profile.{column}"),
                  t(lang, f"skm.{column}.{code}") if code is not None else t(lang, "ikm.no_answer"),
                  counts.get(code, 0), counts.get(code, 0) / n if n else None] for code in [*codes, None]]
    return Table(t(lang, "ikm.profile"), [
        Column(t(lang, "ikm.col.characteristic"), width=1.3), Column(t(lang, "ikm.col.category"), width=2),
        Column(t(lang, "ikm.col.count"), "int"), Column(t(lang, "ikm.col.share"), "pct")],
        rows, note=t(lang, "ikm.profile_note", n=n))


def _per_service(runtime, by_service: dict, lang) -> Table:
    """The office's services in their order (also those nobody rated yet), then categories
    rated that are not services (answers moved from ratings), then "not given"."""
    settings, wf = runtime.settings, runtime.workflow
    labels = {c.id: c.label_id if lang == "id" else c.label_en for c in settings.effective_categories(wf)}
    order = [c.id for c in settings.survey_services(wf)]
    order += sorted(k for k in by_service if k is not None and k not in order)
    rows = [(labels.get(k, k), by_service.get(k)) for k in order]
    if None in by_service:
        rows.append((t(lang, "ikm.service_none"), by_service[None]))
    return _per("ikm.by_service", "ikm.col.service", rows, lang)


def _unit_rows(by_unit: dict, units: dict, lang) -> list:
    rows = sorted(((units.get(k, f"#{k}"), v) for k, v in by_unit.items() if k is not None), key=lambda r: r[0])
    if None in by_unit:
        rows.append((t(lang, "ikm.unit_none"), by_unit[None]))
    return rows


def _per(title: str, first: str, rows: list, lang, note: str = "") -> Table:
    body = []
    for name, ikm in rows:
        _, words = _quality(ikm.score, lang) if ikm is not None else (None, None)
        body.append([name, ikm.respondents if ikm else 0, _dec(ikm.index) if ikm else None,
                     ikm.score if ikm else None, ikm.grade if ikm else None, words])
    return Table(t(lang, title), [
        Column(t(lang, first), width=2.8), Column(t(lang, "ikm.col.respondents"), "int", width=1.2),
        Column(t(lang, "ikm.col.index"), "dec4"), Column(t(lang, "ikm.col.score"), "dec2", width=1.3),
        Column(t(lang, "ikm.col.quality"), width=1.2), Column(t(lang, "ikm.col.performance"), width=1.3)],
        body, note=note)
