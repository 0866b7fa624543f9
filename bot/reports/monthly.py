"""The monthly report: what KemenPAN-RB evaluates (follow-up rate, average follow-up time
in working days), SLA compliance per stage, escalations, ratings and IKM, and the list
of cases with their SP4N-LAPOR! tracking ids (seed 000 step 6)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time

from bot.reports.cells import row as safe_row, rows as safe_rows
from bot.reports.charts import chart_png
from flows.i18n import catalog
from storage.reporting import case_rows, figures


def month_bounds(cal, month: str) -> tuple[datetime, datetime]:
    year, mon = (int(p) for p in month.split("-"))
    start = datetime.combine(date(year, mon, 1), time.min, cal.tz)
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    return start, datetime.combine(nxt, time.min, cal.tz)


def _words(runtime):
    """Labels for what the database stores as ids (the report is read, not parsed)."""
    wf = runtime.workflow
    cats = {c.id: c.label_id for c in runtime.cases.categories}
    known = catalog("id")
    return {
        "state": lambda k: wf.states[k].label_id if k in wf.states else k,
        "kind": lambda k: known.get(f"kind.{k}", k),
        "channel": lambda k: known.get(f"channel.{k}", k),
        "category": lambda k: cats.get(k, k) if k else "-",
    }


def summary_rows(runtime, f) -> list[list]:
    pct = lambda x: f"{100 * x:.1f}%" if x is not None else "-"  # noqa: E731
    words = _words(runtime)
    label = words["state"]
    rows = [["Laporan bulanan", runtime.settings.office.name],
            ["Periode", f"{f.start:%Y-%m-%d} s.d. {f.end:%Y-%m-%d} (tidak termasuk)"],
            ["Jumlah pengaduan", f.total],
            ["Persentase tindak lanjut", pct(f.follow_up_rate)],
            ["Rata-rata lama tindak lanjut (hari kerja)",
             f"{f.avg_follow_up_days:.1f}" if f.avg_follow_up_days is not None else "-"],
            ["Eskalasi", f.escalations],
            ["Penilaian", f.ratings], ["Selesai menurut pelapor", f.solved],
            ["Rata-rata nilai (1-5)", f"{f.avg_score:.2f}" if f.avg_score is not None else "-"],
            ["IKM (nilai konversi)", f"{f.ikm.score} ({f.ikm.grade})" if f.ikm and f.ikm.score else "-"], []]
    for title, counts, name in (("Menurut jenis", f.by_kind, "kind"), ("Menurut kategori", f.by_category, "category"),
                                ("Menurut kanal", f.by_channel, "channel"), ("Menurut status", f.by_state, "state")):
        rows.append([title])
        rows += [[words[name](k), n] for k, n in sorted(counts.items())]
        rows.append([])
    rows.append(["Kepatuhan SLA per tahap", "tepat waktu", "terlambat", "masih lewat tenggat", "persen"])
    for stage, (met, missed, overdue) in f.sla.items():
        total = met + missed + overdue
        rows.append([label(stage), met, missed, overdue, pct(met / total) if total else "-"])
    return rows


CASE_HEADER = ["tiket", "masuk", "jenis", "kategori", "kanal", "status", "nomor SP4N-LAPOR!"]


def _case_table(runtime, s, f):
    cal, words = runtime.calendar, _words(runtime)
    for _, ticket, created, kind, category, channel, state, lapor in case_rows(s, f.start, f.end):
        yield [ticket, f"{cal.local(created):%Y-%m-%d %H:%M}", words["kind"](kind), words["category"](category),
               words["channel"](channel), words["state"](state), lapor or ""]


def write(runtime, month: str, fmt: str, path: str) -> dict:
    """Write the report of `month` (YYYY-MM) as csv, xlsx or pdf; return the figures."""
    cal = runtime.calendar
    start, end = month_bounds(cal, month)
    with runtime.sessions() as s:
        f = figures(s, runtime.workflow, cal, start, end)
        summary = summary_rows(runtime, f)
        if fmt == "csv":
            with open(path, "w", newline="", encoding="utf-8") as out:
                w = csv.writer(out)
                w.writerows(safe_rows(summary))  # office and category names are typed by people too
                w.writerow([])
                w.writerow(CASE_HEADER)
                w.writerows(safe_row(r) for r in _case_table(runtime, s, f))
        elif fmt == "xlsx":
            _xlsx(runtime, s, f, summary, path)
        else:
            _pdf(runtime, s, f, summary, path)
    return {"figures": f}


def _labels(runtime):
    return {k: d.label_id for k, d in runtime.workflow.states.items()}


def _xlsx(runtime, s, f, summary, path):
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image

    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = "Ringkasan"
    for row in summary:
        sheet.append(safe_row(row))
    sheet.column_dimensions["A"].width = 42
    cases = book.create_sheet("Kasus")
    cases.append(CASE_HEADER)
    for row in _case_table(runtime, s, f):
        cases.append(safe_row(row))  # an SP4N-LAPOR! id like =cmd|'/Ccalc'!A0 stays text
    picture = book.create_sheet("Grafik")
    picture.add_image(Image(io.BytesIO(chart_png(f, _labels(runtime)))), "A1")
    book.save(path)


def _pdf(runtime, s, f, summary, path):
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        lines = ["  ".join(str(c) for c in row) for row in summary]
        # parse_math=False: a "$" in a typed id or name is a dollar, never mathtext ($\frac{$ crashed it)
        fig.text(0.06, 0.96, "\n".join(lines[:70]), va="top", family="monospace", fontsize=7.5,
                 parse_math=False, usetex=False)
        pdf.savefig(fig)
        plt.close(fig)
        fig = plt.figure(figsize=(11.69, 4.6))
        fig.figimage(plt.imread(io.BytesIO(chart_png(f, _labels(runtime))), format="png"))
        pdf.savefig(fig)
        plt.close(fig)
        rows = list(_case_table(runtime, s, f))
        for first in range(0, len(rows), 60):
            fig = plt.figure(figsize=(8.27, 11.69))
            text = "\n".join(" | ".join(r) for r in [CASE_HEADER] + rows[first:first + 60])
            fig.text(0.04, 0.97, text, va="top", family="monospace", fontsize=6, parse_math=False, usetex=False)
            pdf.savefig(fig)
            plt.close(fig)
