"""The report's chart: cases per week by state, and SLA compliance per stage (PNG)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no screen: render to files
import matplotlib.pyplot as plt  # noqa: E402

from bot.reports.cells import plain_text  # noqa: E402


def chart_png(figures, labels: dict[str, str]) -> bytes:
    labels = {k: plain_text(v) for k, v in labels.items()}  # workflow labels are typed: "$" is a dollar
    fig, (weeks_ax, sla_ax) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    weeks = list(figures.weekly)
    states = sorted({s for counts in figures.weekly.values() for s in counts})
    bottom = [0] * len(weeks)
    for state in states:
        values = [figures.weekly[w].get(state, 0) for w in weeks]
        weeks_ax.bar([w.strftime("%d %b") for w in weeks], values, bottom=bottom, label=labels.get(state, plain_text(state)))
        bottom = [b + v for b, v in zip(bottom, values)]
    weeks_ax.set_title("Pengaduan per minggu menurut status")
    weeks_ax.set_ylabel("kasus")
    weeks_ax.yaxis.get_major_locator().set_params(integer=True)
    if states:
        weeks_ax.legend(fontsize=7)
    stages = list(figures.sla)
    rates = [100 * met / (met + missed + overdue) if met + missed + overdue else 0
             for met, missed, overdue in figures.sla.values()]
    sla_ax.barh([labels.get(s, plain_text(s)) for s in stages], rates, color="#2a7ab0")
    sla_ax.set_xlim(0, 100)
    sla_ax.set_title("Kepatuhan SLA per tahap (%)")
    for y, rate in enumerate(rates):
        sla_ax.text(min(rate + 1, 90), y, f"{rate:.0f}%", va="center", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
