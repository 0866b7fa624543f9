"""Charts drawn on the server as SVG (no script, no library in the browser): cases per
week stacked by state, and horizontal bars of a share (on time per stage, followed up
per unit). Labels are escaped; colours are attributes, not styles (the page's CSP)."""
from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#1f6f8b", "#e0a500", "#3a9d5d", "#c0392b", "#7d5ba6", "#16a2b8", "#d35400", "#5d6d7e",
           "#a93226", "#2e86c1", "#229954", "#b7950b")


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
                  f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>'
                  + "".join(body) + "</svg>")


def weekly(weeks: dict, order: list[str], labels: dict, week_label, title: str, empty: str) -> Markup:
    """Stacked bars: one per week (its start day), a colour per state in workflow order."""
    width, height, left, top, bottom = 480, 250, 34, 18, 52
    present = {s for counts in weeks.values() for s in counts}
    states = [s for s in order if s in present] + sorted(present - set(order))
    if not weeks:
        return _svg(width, 120, [f'<text x="{width / 2}" y="60" text-anchor="middle" fill="#555">{escape(empty)}</text>'],
                    title)
    peak = max(sum(c.values()) for c in weeks.values()) or 1
    step = _nice(peak)
    top_value = step * -(-peak // step)
    plot_h, plot_w = height - top - bottom, width - left - 12
    slot = plot_w / len(weeks)
    body = []
    for n in range(0, top_value + 1, step):  # grid and scale
        y = top + plot_h - plot_h * n / top_value
        body.append(f'<line x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">{n}</text>')
    for i, (week, counts) in enumerate(weeks.items()):
        bar = min(slot * 0.6, 56)
        x, y = left + i * slot + (slot - bar) / 2, top + plot_h
        for j, state in enumerate(states):
            n = counts.get(state, 0)
            if not n:
                continue
            h = plot_h * n / top_value
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(labels.get(state, state))}: {n}</title></rect>')
        total = sum(counts.values())
        body.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11">{total}</text>'
                    f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" font-size="11" '
                    f'fill="#333">{escape(week_label(week))}</text>')
    legend_y = height - 22
    x = left
    for j, state in enumerate(states):  # the legend, wrapping by estimate
        text = labels.get(state, state)
        w = 20 + 6.2 * len(text)
        if x + w > width and x > left:
            x, legend_y = left, legend_y + 16
        body.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                    f'<text x="{x + 14}" y="{legend_y}" font-size="11">{escape(text)}</text>')
        x += w
    return _svg(width, max(height, legend_y + 8), body, title)


def shares(rows: list[tuple[str, float | None, str]], title: str, empty: str) -> Markup:
    """Horizontal bars of a share 0..1: (label, share or None when there is nothing to count, text)."""
    width, row_h, label_w = 420, 26, 150
    if not rows:
        return _svg(width, 60, [f'<text x="{width / 2}" y="34" text-anchor="middle" fill="#555">{escape(empty)}</text>'],
                    title)
    body = []
    bar_w = width - label_w - 96
    for i, (label, share, text) in enumerate(rows):
        y = 8 + i * row_h
        shown = label if len(label) <= 22 else label[:21] + "…"
        body.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" font-size="11">{escape(shown)}'
                    f'<title>{escape(label)}</title></text>'
                    f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="16" fill="#eef1f4"/>')
        if share is not None:
            colour = "#3a9d5d" if share >= 0.9 else "#e0a500" if share >= 0.7 else "#c0392b"
            body.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * max(0.0, min(1.0, share)):.1f}" '
                        f'height="16" fill="{colour}"/>')
        body.append(f'<text x="{label_w + bar_w + 6}" y="{y + 14}" font-size="11">{escape(text)}</text>')
    return _svg(width, 16 + len(rows) * row_h, body, title)


def _nice(peak: int) -> int:
    """A grid step giving about four lines."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if peak / step <= 5:
            return step
    return 10_000
