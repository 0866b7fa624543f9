"""What the conversation needs to know about the office, built once from the settings."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flows.calendar import WEEKDAYS, OfficeCalendar, zone_abbreviation
from flows.i18n import t
from flows.intake import Rules
from flows.sla import parse_sla
from flows.workflow import CategoryDef, Workflow
from storage.cases import CaseService


@dataclass(frozen=True)
class Office:
    name: str
    contacts: str
    service_pledge: str
    default_language: str
    cases: CaseService
    dialog_ttl: timedelta = timedelta(hours=24)
    retention_years: int = 5
    limits: dict = None  # min_text, max_text, max_attachments, max_attachment_bytes
    phone_channel: str | None = None  # where a phone number given by an officer is reached
    skm_survey: bool = False  # the SKM survey runs: /survei, the menu, after a rating (handlers.survey)
    survey_services: tuple[CategoryDef, ...] = ()  # the categories a respondent rates
    survey_quota: object | None = None  # new responses per web chat address (a SubmissionQuota)
    email: bool = False  # an SMTP relay is configured: citizens who gave an email get follow-ups
    # Limits complaints per sender and client address (storage.limits.SubmissionQuota, or
    # anything with its `take`); None: no limit.
    quota: object | None = None
    # Channels whose only proof of who writes is a browser cookie: an officer there must be
    # linked from a chat app they enrolled on (handlers.confirm).
    cookie_channels: frozenset = frozenset()
    new_case_burst: int = 5  # more new cases than this in a minute: one summary to coordinators
    # The web back office's address ("https://host/kantor", a path alone without
    # server.public_url; None: off) and how long a sign-in link or code lives (/masuk).
    backoffice_url: str | None = None
    sign_in_ttl: timedelta = timedelta(minutes=10)

    @property
    def workflow(self) -> Workflow:
        return self.cases.workflow

    @property
    def calendar(self) -> OfficeCalendar:
        return self.cases.calendar

    @property
    def categories(self) -> tuple[CategoryDef, ...]:
        return self.cases.categories

    def rules(self, channel: str) -> Rules:
        return Rules(
            require_email=self.workflow.intake.require_email,
            email_followups=self.email,
            categories=tuple((c.id, c.label_id, c.label_en) for c in self.categories),
            phone_from_channel=channel == "whatsapp",
            share_contact=channel == "telegram",  # the only channel with a share-number button
            **(self.limits or {}),
        )

    def hours_text(self, lang: str) -> str:
        """"Senin–Kamis 07.30–16.00, Jumat 07.30–16.30": consecutive days with equal hours."""
        groups: list[list] = []
        for wd in range(7):
            hours = self.calendar.hours.get(wd)
            if groups and groups[-1][2] == hours:
                groups[-1][1] = wd
            else:
                groups.append([wd, wd, hours])
        sep = "." if lang == "id" else ":"
        parts = []
        for first, last, hours in groups:
            if hours is None:
                continue
            days = t(lang, f"weekday.{WEEKDAYS[first]}")
            if last != first:
                days += "–" + t(lang, f"weekday.{WEEKDAYS[last]}")
            fmt = f"%H{sep}%M"
            parts.append(f"{days} {hours[0].strftime(fmt)}–{hours[1].strftime(fmt)}")
        return ", ".join(parts)

    def info_text(self, lang: str) -> str:
        """Service hours, contacts, the time standards and the service pledge."""
        wf = self.workflow
        lines = []
        for name, st in wf.states.items():
            if st.sla and not st.final and st.citizen_visible and "citizen" not in st.actors:
                step = (st.step_id if lang == "id" else st.step_en) or st.label_id
                lines.append(t(lang, "info.standard_line", step=step, sla=parse_sla(st.sla).label(lang)))
        text = t(lang, "info", office=self.name, zone=zone_abbreviation(self.calendar.timezone_name),
                 hours=self.hours_text(lang), contacts=self.contacts or "-", standards="\n".join(lines))
        timed = [c for c in self.categories if c.service_time]
        if timed:
            text += "\n\n" + t(lang, "info.service_times") + "\n" + "\n".join(
                t(lang, "info.category_line", category=c.label_id if lang == "id" else c.label_en,
                  time=c.service_time) for c in timed)
        notes = wf.workflow.notes_id if lang == "id" else wf.workflow.notes_en
        if notes:
            text += "\n\n" + t(lang, "info.notes", notes=notes)
        if self.service_pledge:
            text += "\n\n" + t(lang, "info.pledge", pledge=self.service_pledge)
        return text
