"""Periodic jobs of the scheduler: the daily and weekly digests, the monthly report and the
daily privacy purge, each done once for its key (a date, a week, a month) through
`scheduled_runs`."""
from __future__ import annotations

import base64
import logging
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from bot.reports.document import number_text
from flows.calendar import WEEKDAYS
from flows.i18n import t
from flows.messages import Reply
from handlers import digests, notify
from storage.base import FIRST_OFFICE
from storage.models import Officer, ScheduledRun

log = logging.getLogger(__name__)


def _claim(session, job: str, key: str, now) -> bool:
    try:
        with session.begin_nested():
            session.add(ScheduledRun(job=job, run_key=key, at=now))
        return True
    except IntegrityError:
        return False


def _at(spec: str) -> time:
    return time.fromisoformat(spec)


def run_due(runtime, now: datetime) -> int:
    """Do the periodic jobs whose time has come; return how many ran."""
    cfg, cal = runtime.settings.digest, runtime.calendar
    local = cal.local(now)
    today = local.date()
    office = runtime.conversation.office
    ran = purge_daily(runtime, today.isoformat(), now)
    if cal.is_working_day(today) and local.time() >= _at(cfg.daily_time):
        with runtime.transaction() as s:
            if _claim(s, "daily", today.isoformat(), now):
                ran += 1
                officers = s.scalars(select(Officer).where(Officer.active.is_(True))
                                     .options(selectinload(Officer.identities))).all()
                for officer in officers:
                    reply = digests.daily(s, office, officer, now)
                    if reply is not None:
                        notify.send_to_officer(s, officer, reply, None, now)
        if today >= _first_working_day(cal, today):  # on the first working day, or after if missed
            previous = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            with runtime.sessions() as s:
                done = s.scalar(select(ScheduledRun.id).where(ScheduledRun.job == "monthly",
                                                              ScheduledRun.run_key == previous))
            if done is None and monthly(runtime, previous, now):
                ran += 1
    if WEEKDAYS[local.weekday()] == cfg.weekly_day and local.time() >= _at(cfg.weekly_time):
        year, week, _ = today.isocalendar()
        with runtime.transaction() as s:
            if _claim(s, "weekly", f"{year}-W{week:02d}", now):
                ran += 1
                for officer in notify.officers_in(s, office.workflow.roles_of_kind("leadership")):
                    reply = digests.weekly(s, office, officer.language, now)
                    if reply is not None:
                        notify.send_to_officer(s, officer, reply, None, now)
    return ran


def purge_daily(runtime, key: str, now: datetime) -> int:
    """Anonymise what is past retention, every day (holidays too: the law's clock does not
    stop). Claimed after it ran: a purge that fails is tried again next tick, and one that
    runs twice does nothing the second time."""
    from bot import privacy

    with runtime.sessions() as s:
        if s.scalar(select(ScheduledRun.id).where(ScheduledRun.job == "privacy_purge",
                                                  ScheduledRun.run_key == key)) is not None:
            return 0
    privacy.purge(runtime, now)
    with runtime.transaction() as s:
        return int(_claim(s, "privacy_purge", key, now))


def reports_folder(runtime) -> Path:
    """digest.reports_dir for the first office; a folder per office code under it for the others."""
    folder = Path(runtime.settings.digest.reports_dir)
    return folder if getattr(runtime, "id", FIRST_OFFICE) == FIRST_OFFICE else folder / runtime.code


def _first_working_day(cal, day):
    first = day.replace(day=1)
    return first if cal.is_working_day(first) else cal.next_working_day(first)


def monthly(runtime, month: str, now: datetime) -> bool:
    """Make last month's report (an A4 PDF to sign, and the xlsx with every case) and send
    it to leadership, with the chart as a photo. The run is claimed in the same transaction
    as the messages: a failure before that leaves it unclaimed, so the next tick makes it again."""
    from bot.reports import monthly as report
    from bot.reports.charts import chart_png
    from bot.reports.words import Words

    folder = reports_folder(runtime)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"laporan-{month}.pdf"
    f = report.write(runtime, month, "pdf", str(path), also={"xlsx": str(folder / f"laporan-{month}.xlsx")})["figures"]
    w = Words(runtime, "id")
    png = chart_png(f, {k: w.state(k) for k in runtime.workflow.states}, runtime.workflow.ordered_states(),
                    report.chart_texts(w))
    (folder / f"grafik-{month}.png").write_bytes(png)
    office = runtime.conversation.office
    with runtime.transaction() as s:
        if not _claim(s, "monthly", month, now):
            return False  # another scheduler sent it meanwhile
        for officer in notify.officers_in(s, office.workflow.roles_of_kind("leadership")):
            lang = officer.language
            text = t(lang, "digest.monthly", month=month, total=f.total, escalations=f.escalations,
                     rate=number_text(f.follow_up_rate, "pct", lang), days=number_text(f.avg_follow_up_days, "dec1", lang),
                     path=path)
            # the chart travels in the outbox row itself: a worker on another machine sends it
            notify.send_to_officer(s, officer, Reply(text, photo=base64.b64encode(png).decode()), None, now)
    log.info("monthly report %s made", month)
    return True
