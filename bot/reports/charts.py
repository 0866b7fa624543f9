"""The reports' charts (PNG): reports received per week by state, and the on-time rate per
stage. Drawn at print size (17 cm wide, as the PDF places them) so that a font size here is
its size on paper: nothing under 8 pt. `chart_png` puts both side by side for a phone (the
photo the leadership gets with the monthly report)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no screen: render to files
import matplotlib.pyplot as plt  # noqa: E402

from bot.reports.cells import plain_text  # noqa: E402

PRINT_WIDTH_CM = 17.0
INCH = 2.54
SMALLEST_PT = 8
DPI = 200
TEXTS = {  # Indonesian by default; a report passes its own words
    "weekly": "Laporan masuk per minggu menurut status", "weekly_y": "laporan", "weekly_x": "minggu mulai",
    "sla": "Kepatuhan waktu per tahap", "sla_x": "% tepat waktu", "no_data": "belum ada data",
}


def _style():
    return {"font.size": 8.5, "axes.titlesize": 9.5, "axes.labelsize": 8.5, "xtick.labelsize": 8,
            "ytick.labelsize": 8, "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False}


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    plt.close(fig)
    return out.getvalue()


def _label(labels: dict, key: str) -> str:
    return plain_text(labels.get(key, key))  # typed labels: "$" is a dollar, never mathtext


def _weekly(ax, figures, labels, order, texts, week_label):
    weeks = list(figures.weekly)
    present = {s for counts in figures.weekly.values() for s in counts}
    states = [s for s in order if s in present] + sorted(present - set(order))
    colours = plt.get_cmap("tab10" if len(states) <= 10 else "tab20")
    bottom = [0] * len(weeks)
    ticks = [week_label(w) for w in weeks]
    for i, state in enumerate(states):
        values = [figures.weekly[w].get(state, 0) for w in weeks]
        ax.bar(ticks, values, bottom=bottom, label=_label(labels, state), color=colours(i % colours.N), width=0.6)
        bottom = [b + v for b, v in zip(bottom, values)]
    if texts["weekly"]:
        ax.set_title(texts["weekly"])
    ax.set_ylabel(texts["weekly_y"])
    ax.set_xlabel(texts["weekly_x"])
    ax.yaxis.get_major_locator().set_params(integer=True)
    if not weeks:
        ax.text(0.5, 0.5, texts["no_data"], ha="center", va="center", transform=ax.transAxes)
    return states


def _sla(ax, rows, texts):
    names = [name for name, _ in rows][::-1]  # the first stage on top
    rates = [rate for _, rate in rows][::-1]
    ax.barh(names, rates, color="#2a7ab0", height=0.6)
    ax.set_xlim(0, 100)
    if texts["sla"]:
        ax.set_title(texts["sla"])
    ax.set_xlabel(texts["sla_x"])
    for y, rate in enumerate(rates):
        inside = rate > 85  # no room after a long bar: the figure goes inside it, in white
        ax.text(rate - 1.5 if inside else rate + 1.5, y, f"{rate:.0f} %", va="center", fontsize=SMALLEST_PT,
                ha="right" if inside else "left", color="white" if inside else "black")
    if not rows:
        ax.text(0.5, 0.5, texts["no_data"], ha="center", va="center", transform=ax.transAxes)


def sla_rows(figures, labels, order) -> list[tuple[str, float]]:
    """(stage label, % on time) for the stages with clocks, in workflow order."""
    stages = [s for s in order if s in figures.sla] + sorted(set(figures.sla) - set(order))
    out = []
    for s in stages:
        met, missed, overdue = figures.sla[s]
        if met + missed + overdue:
            out.append((_label(labels, s), 100 * met / (met + missed + overdue)))
    return out


def weekly_chart(figures, labels: dict, order: list[str], texts: dict = TEXTS, week_label=None) -> bytes:
    week_label = week_label or (lambda d: f"{d:%d/%m}")
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(PRINT_WIDTH_CM / INCH, 3.3))
        states = _weekly(ax, figures, labels, order, texts, week_label)
        if states:  # below the bars, as wide as the chart: long labels fit
            fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=min(3, len(states)), frameon=False)
            fig.tight_layout(rect=(0, 0.07 * ((len(states) + 2) // 3) + 0.02, 1, 1))
        else:
            fig.tight_layout()
        return _png(fig)


def sla_chart(figures, labels: dict, order: list[str], texts: dict = TEXTS) -> bytes:
    rows = sla_rows(figures, labels, order)
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(PRINT_WIDTH_CM / INCH, 1.2 + 0.32 * max(len(rows), 2)))
        _sla(ax, rows, texts)
        fig.tight_layout()
        return _png(fig)


def chart_png(figures, labels: dict[str, str], order: list[str] | None = None, texts: dict = TEXTS) -> bytes:
    """Both charts side by side (for a phone screen)."""
    order = order or list(labels)
    with plt.rc_context(_style()):
        fig, (weeks_ax, sla_ax) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
        if _weekly(weeks_ax, figures, labels, order, texts, lambda d: f"{d:%d/%m}"):
            weeks_ax.legend(fontsize=SMALLEST_PT)
        _sla(sla_ax, sla_rows(figures, labels, order), texts)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        plt.close(fig)
        return out.getvalue()
