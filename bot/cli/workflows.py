"""`aduan workflow`: show and check workflows (presets or files)."""
import click

from bot.cli.render import echo_table
from flows.follow_up import follow_up_states
from flows.presets import load_workflow, preset_names
from flows.workflow import StateDef, Workflow


def state_order(wf: Workflow) -> list[str]:
    """The main path in the order a case meets it, then waiting states, then final ones."""
    return wf.ordered_states()


def sla_core(st: StateDef) -> str:
    """A stage's clock in a few words: what README's preset table names beside the stage."""
    sla = st.sla or (f"on the {st.continues} clock" if st.continues else "-")
    return sla + (f" (reminder at {st.sla_min})" if st.sla_min else "")


def sla_cell(st: StateDef) -> str:
    """A stage's SLA as `workflow show` prints it."""
    sla = sla_core(st)
    if st.pause_clock:
        sla += " (pauses the clock)"
    if st.sla_note:
        sla += f" [{st.sla_note}]"
    return sla


def _roles(wf: Workflow, names) -> str:
    return ", ".join(wf.roles[r].label_id if r in wf.roles else r for r in names) or "-"


def show_workflow(wf: Workflow) -> None:
    h = wf.workflow
    click.echo(f"{h.name}: {h.label_id}\n  ({h.label_en})\n  source: {h.source}")
    if h.timezone:
        click.echo(f"  time zone: {h.timezone}")
    if wf.office_hours:
        click.echo("  office hours: " + ", ".join(f"{d} {v}" for d, v in wf.office_hours.items()))
    if h.notes_id:
        click.echo(f"  notes: {h.notes_id}")

    click.echo("\nRoles:")
    echo_table(["role", "label", "kind"],
               [[r, f"{d.label_id} / {d.label_en}", d.kind] for r, d in wf.roles.items()])

    click.echo("\nSteps (SOP time as written; SLA as enforced):")
    numbered = wf.intake.sop_time is not None  # the SOP counts the report itself as step 1
    rows = [["1" if numbered else "-", "intake", wf.intake.step_id, "citizen", wf.intake.sop_time or "-", "-", "-"]]
    for n, name in enumerate(state_order(wf), 2 if numbered else 1):
        st = wf.states[name]
        if st.final:
            rows.append([n, name, f"{st.label_id} / {st.label_en} (final)", "-", "-", "-", "-"])
            continue
        sla = sla_cell(st)
        breach = []
        if st.on_breach.notify:
            breach.append("notify " + _roles(wf, st.on_breach.notify))
        if st.on_breach.trigger:
            breach.append(f"auto: {st.on_breach.trigger}")
        marks = st.thresholds(st.sla) if st.sla else st.remind_at  # a range's lower bound too
        reminders = " ".join(f"{f:.0%}" for f in marks) if (st.sla or st.continues) else ""
        step = f"{st.label_id} / {st.label_en}: {st.step_id or ''}"
        if st.sop_note:  # the SOP's remark on the step (Keterangan)
            step += f" (Ket.: {st.sop_note})"
        rows.append([n, name, step,
                     _roles(wf, st.actors), st.sop_time or "-", sla,
                     "; ".join(breach + ([f"remind {reminders}"] if reminders else [])) or "-"])
    echo_table(["#", "state", "label: SOP step", "who", "SOP time", "SLA", "breach / reminders"],
               rows, widths={2: 48, 5: 30, 6: 28})

    click.echo("\nTransitions:")
    echo_table(["action", "command", "from", "to", "allowed roles", "needs"],
               [[t.trigger, "/" + t.command if t.command else "-", ", ".join(t.source), t.dest,
                 ", ".join(t.roles), t.needs or "-"] for t in wf.transitions],
               widths={4: 36})
    if wf.escalation:
        e = wf.escalation
        click.echo(f"\nEscalation: after {e.after} without a follow-up, notify {_roles(wf, e.notify)}"
                   + ("; the citizen is told of the Ombudsman route (not for anonim reports)"
                      if e.ombudsman_notice else ""))
    fu = follow_up_states(wf)
    click.echo(f"\nFollow-up figures ([reporting]): followed up = {', '.join(fu.followed_up)}; counted apart, "
               f"out of the denominator = {', '.join(fu.referred + fu.rejected) or '-'}; not followed up = "
               f"{', '.join(fu.ended) or '-'}; waiting on the citizen, left out of the time = "
               f"{', '.join(fu.waiting) or '-'}")
    if wf.categories:
        click.echo("\nCategories:")
        echo_table(["id", "label", "service time", "SLA overrides"],
                   [[c.id, c.label_id, c.service_time or "-",
                     ", ".join(f"{k}: {v}" for k, v in c.sla.items()) or "-"] for c in wf.categories],
                   widths={2: 60})
    if wf.periodic:
        click.echo("\nPeriodic duties:")
        echo_table(["id", "every", "duty", "who", "SOP time", "SLA from opening",
                    "command"],
                   [[p.id, p.every, p.step_id, _roles(wf, [p.actor]), p.sop_time or "-",
                     p.clock_sla + (f" ({p.sla_note})" if p.sla_note else ""), ", ".join("/" + c for c in p.commands)]
                    for p in wf.periodic],
                   widths={2: 48, 5: 30})
    if wf.lapor:
        click.echo("\nSP4N-LAPOR! status (aduan report lapor):")
        echo_table(["state", "label", "LAPOR! status"],
                   [[s, wf.states[s].label_id, wf.lapor.status[s]] for s in state_order(wf)])


@click.group("workflow")
def workflow():
    """Workflows: the SOPs as data."""


@workflow.command("list")
def workflow_list():
    """List the shipped presets."""
    echo_table(["preset", "label", "source"],
               [[n, (wf := load_workflow(n)).workflow.label_en, wf.workflow.source]
                for n in preset_names()])


@workflow.command("show")
@click.argument("name_or_file")
def workflow_show(name_or_file):
    """Show a preset or workflow file: steps, SLAs, roles and transitions."""
    show_workflow(load_workflow(name_or_file))


@workflow.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def workflow_check(file):
    """Validate a workflow file; name the key at fault if it is not valid."""
    wf = load_workflow(file)
    click.echo(f"{file}: ok ({wf.name}: {len(wf.states)} states, "
               f"{len(wf.transitions)} transitions, {len(wf.roles)} roles)")


def register(main: click.Group) -> None:
    main.add_command(workflow)
