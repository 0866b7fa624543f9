"""The reports' words in the reader's language: the labels of what the database stores as ids
(states, kinds, channels, categories, units, roles), the report texts (flows/locales, keys
"report.*"), dates and periods. A report shows labels only: an id is for machines."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from babel.dates import format_date

from flows.i18n import t
from flows.sla import parse_sla


class Words:
    def __init__(self, runtime, lang: str = "id", units: dict | None = None):
        self.lang = lang
        self.workflow = runtime.workflow
        self.calendar = runtime.calendar
        self.categories = {c.id: c for c in runtime.cases.categories}  # the office's, in its order
        self._known = {c.id: c for c in runtime.workflow.categories} | self.categories
        self.units = units or {}  # unit id -> Unit

    def __call__(self, key: str, **values) -> str:
        return t(self.lang, f"report.{key}", **values)

    def _label(self, thing) -> str:
        return thing.label_en if self.lang == "en" else thing.label_id

    def state(self, name: str) -> str:
        st = self.workflow.states.get(name)
        return self._label(st) if st else self("unknown_state")

    def states(self, names) -> str:
        return ", ".join(self.state(s) for s in names) or "-"

    def kind(self, name: str) -> str:
        return t(self.lang, f"kind.{name}") if name in ("pengaduan", "aspirasi", "permintaan_informasi") else name

    def channel(self, name: str) -> str:
        try:
            return t(self.lang, f"channel.{name}")
        except KeyError:
            return _readable(name)

    def category(self, name: str | None) -> str:
        """A category the office has since dropped keeps the workflow's label, else its id
        read as words ("jalan_berlubang" -> "Jalan berlubang")."""
        if not name or name == "-":
            return self("no_category")
        c = self._known.get(name)
        return self._label(c) if c else _readable(name)

    def unit(self, unit_id: int | None) -> str:
        if unit_id is None:
            return self("units.none")
        u = self.units.get(unit_id)
        return f"{u.name} ({u.code})" if u else str(unit_id)

    def unit_code(self, unit_id: int | None) -> str:
        u = self.units.get(unit_id)
        return u.code if u else ("" if unit_id is None else str(unit_id))

    def role(self, name: str) -> str:
        r = self.workflow.roles.get(name)
        return self._label(r) if r else name

    def leadership(self) -> str:
        lead = self.workflow.roles_of_kind("leadership")
        return self.role(lead[0]) if lead else self("sign.head")

    def sla(self, name: str) -> str:
        st = self.workflow.states[name]
        if st.continues:
            return self("sla.continues", stage=self.state(st.continues))
        return parse_sla(st.sla).label(self.lang) if st.sla else "-"

    # -- dates ------------------------------------------------------------------------
    def day(self, d: date | datetime) -> str:
        if isinstance(d, datetime):
            d = self.calendar.local(d).date()
        return format_date(d, "d MMMM y", locale=self.lang)

    def until(self, as_of: datetime) -> str:
        """The last day counted when counting up to `as_of` (the end of April, not 1 May)."""
        return self.day(as_of - timedelta(microseconds=1))

    def month(self, start: datetime) -> str:
        return format_date(self.calendar.local(start).date(), "MMMM y", locale=self.lang)

    def span(self, start: datetime, end: datetime) -> str:
        """"1 April 2025 s.d. 30 April 2025": the period's first and last local day."""
        last = self.calendar.local(end).date() - timedelta(days=1)
        return self("span", first=self.day(start), last=self.day(last))


def _readable(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name
