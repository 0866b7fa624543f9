"""SP4N-LAPOR!'s report statuses, and how a workflow's states map onto them.

There is no public SP4N-LAPOR! API, so an admin enters each report into LAPOR! by hand
(`aduan report lapor` lists them) and sets the status LAPOR! shows. A report there is
Belum Terverifikasi until an admin verifies it (an admin who asks the reporter for more
holds it unverified: LAPOR!'s "Tunda"), Belum Ditindaklanjuti once verified and passed to
the agency or unit, Proses while the follow-up runs (also after the answer, until the
reporter accepts it or 10 working days pass), Selesai at the end. A report the admin
returns as not the agency's authority shows as Bukan Wewenang; one it will not handle
(unclear, incomplete, not a public-service matter) is archived: Diarsipkan.

Each workflow says which status each of its states is, in a `[lapor.status]` table; the
workflow check refuses a table that leaves a state out or names an unknown one.
"""
from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from flows.errors import WorkflowError

# LAPOR!'s own words (what the admin picks), with an English gloss for --lang en.
STATUSES = {
    "Belum Terverifikasi": "Not yet verified",
    "Belum Ditindaklanjuti": "Not yet followed up",
    "Proses": "In process",
    "Selesai": "Completed",
    "Bukan Wewenang": "Not its authority",
    "Diarsipkan": "Archived",
}
Status = Literal["Belum Terverifikasi", "Belum Ditindaklanjuti", "Proses", "Selesai", "Bukan Wewenang",
                 "Diarsipkan"]
assert set(get_args(Status)) == set(STATUSES)


class LaporDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    status: dict[str, Status]  # state -> the status LAPOR! shows for it


def check(wf, fail) -> None:
    """Every state has exactly one LAPOR! status, and only states of the workflow have one."""
    if wf.lapor is None:
        return
    for name in wf.lapor.status:
        if name not in wf.states:
            fail(f"lapor.status.{name}", f"unknown state {name!r} (states: {', '.join(wf.states)})")
    missing = [s for s in wf.states if s not in wf.lapor.status]
    if missing:
        fail("lapor.status", f"state {missing[0]!r} has no SP4N-LAPOR! status; give every state one of: "
                             + ", ".join(STATUSES))


def status_of(wf, state: str) -> str:
    """The LAPOR! status of a state; a workflow without the table cannot be exported."""
    if wf.lapor is None:
        raise WorkflowError(f"workflow {wf.name}", "lapor.status",
                            "maps no state to an SP4N-LAPOR! status; add a [lapor.status] table "
                            "with one of " + ", ".join(STATUSES) + " for each state")
    return wf.lapor.status[state]


def label(status: str, lang: str = "id") -> str:
    """As the admin reads it: LAPOR!'s word, glossed in English (LAPOR!'s form is Indonesian)."""
    return status if lang == "id" else f"{status} ({STATUSES[status]})"
