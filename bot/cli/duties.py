"""`aduan report duties`: the workflow's periodic duties, each period with its due time and
state, and `--done DUTY_ID --period P` to record one done from the command line."""
from __future__ import annotations

import click

from bot.cli.render import echo_table, office_time
from flows import duties as periods
from flows.duties import PeriodError
from handlers import duties as chat_duties
from storage import duties as store
from storage.visibility import is_late


def state_of(duty, now) -> str:
    due = duty.deadline.due_at if duty.deadline is not None else None
    if duty.done_at is not None:
        return "done late" if due is not None and duty.done_at > due else "done"
    return "OVERDUE" if duty.deadline is not None and is_late(duty.deadline, now) else "open"


@click.command("duties")
@click.option("--done", "duty_id", metavar="DUTY_ID", default=None,
              help="Record this duty done (its id, as listed) instead of listing.")
@click.option("--period", metavar="YYYY-MM|YYYY", default=None,
              help="With --done: the period (default: the latest open one).")
@click.option("--by", "by", metavar="NAME", default=None, help="With --done: who did it (kept with the record).")
@click.pass_obj
def duties(obj, duty_id, period, by):
    """Periodic duties of the office's workflow (the monthly report and SP4N-LAPOR!
    record, the yearly SKM and evaluation): each period with its due time and state
    (open, OVERDUE, done, done late) and who did it."""
    rt = obj.database()
    wf, cal, office = rt.workflow, rt.calendar, rt.conversation.office
    now = rt.clock()
    if duty_id is None:
        if period or by:
            raise click.ClickException("--period and --by go with --done DUTY_ID")
        return _list(rt, wf, cal, office, now)
    p = next((d for d in wf.periodic if d.id == duty_id), None)
    if p is None:
        known = ", ".join(d.id for d in wf.periodic) or "none"
        raise click.ClickException(f"{duty_id!r} is not a periodic duty of workflow {wf.name} (duties: {known})")
    with rt.transaction() as s:
        if period is None:
            open_rows = store.open_rows(s, [p.id])
            if not open_rows:
                raise click.ClickException(f"no period of {p.id} is open; name one with --period")
            key = max(d.period for d in open_rows)
        else:
            try:
                key = periods.parse_period(p.every, period)
            except PeriodError as exc:
                raise click.ClickException(f"--period: {exc}") from None
            if key > periods.latest_ended(p.every, cal.local(now).date()):
                raise click.ClickException(f"{key} has not ended yet: its duty opens "
                                           f"{office_time(cal, periods.opening(cal, p.every, key))}")
        duty, marked = store.record_done(s, p, key, cal, store.DoneBy(by, None, "cli"), now)
        who = chat_duties.who(s, office, duty, "en")
        if not marked:
            raise click.ClickException(f"{p.id} {key} was already done: {who}, {office_time(cal, duty.done_at)}")
        click.echo(f"{p.id} {key}: {state_of(duty, now)} — {who}")


def _list(rt, wf, cal, office, now) -> None:
    if not wf.periodic:
        click.echo(f"workflow {wf.name} has no periodic duties")
        return
    click.echo(f"Periodic duties of {wf.name}:")
    echo_table(["id", "every", "SLA", "who", "command", "duty"],
               [[p.id, p.every, p.clock_sla, wf.roles[p.actor].label_en, ", ".join("/" + c for c in p.commands),
                 p.step_en] for p in wf.periodic], widths={5: 50})
    with rt.sessions() as s:
        rows = store.rows(s)
        listed = [[d.duty, d.period, office_time(cal, d.deadline.due_at if d.deadline else None), state_of(d, now),
                   f"{chat_duties.who(s, office, d, 'en')}, {office_time(cal, d.done_at)}" if d.done_at else "-"]
                  for d in rows]
    click.echo("")
    echo_table(["duty", "period", "due", "state", "done by, at"], listed,
               empty="none opened yet: a duty opens on the first working day after its period")


def register(main: click.Group) -> None:
    main.commands["report"].add_command(duties)  # after bot.cli.report made the group
