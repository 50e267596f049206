"""The report's plots as inline SVG: plain elements, every text escaped, no script.

>>> s = bars([("2", 5), ("3", 1)], title="Cluster sizes", xlabel="members", ylabel="clusters")
>>> s.startswith("<svg") and s.count("<rect") == 3
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bars", "hbars", "histogram"]

_W, _H = 560, 240
_L, _R, _T, _B = 56, 16, 30, 44
_BAR = "#4c78a8"
_MARK = "#d62728"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _frame(title: str, body: list[str], xlabel: str, ylabel: str, ymax: int, h: int = _H) -> str:
    """An SVG with a title, axes labels, y ticks up to ``ymax`` and the ``body`` elements."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {_W} {h}" '
        f'width="{_W}" height="{h}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{_W}" height="{h}" fill="#ffffff" />',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{_e(title)}</text>",
    ]
    base = h - _B
    parts.append(
        f'<line x1="{_L}" y1="{base}" x2="{_W - _R}" y2="{base}" stroke="#333" />'
        f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{base}" stroke="#333" />'
    )
    for t in _ticks(ymax):
        y = base - (base - _T) * t / max(ymax, 1)
        parts.append(
            f'<text x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{t}</text>'
            f'<line x1="{_L - 3}" y1="{y:.1f}" x2="{_L}" y2="{y:.1f}" stroke="#333" />'
        )
    parts.extend(body)
    parts.append(
        f'<text x="{(_L + _W - _R) / 2}" y="{h - 6}" text-anchor="middle" font-size="12">'
        f"{_e(xlabel)}</text>"
        f'<text x="14" y="{(_T + base) / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {(_T + base) / 2})">{_e(ylabel)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(ymax: int) -> list[int]:
    if ymax <= 0:
        return [0]
    step = 10 ** max(0, int(math.log10(ymax)))
    while ymax / step > 5:
        step *= 2
    return list(range(0, ymax + 1, step))


def bars(values: Sequence[tuple[str, int]], *, title: str, xlabel: str, ylabel: str) -> str:
    """A vertical bar chart of labelled counts."""
    ymax = max((v for _, v in values), default=0)
    base, width = _H - _B, (_W - _L - _R) / max(len(values), 1)
    body = []
    for j, (label, v) in enumerate(values):
        hgt = (base - _T) * v / max(ymax, 1)
        x = _L + j * width
        body.append(
            f'<rect class="bar" x="{x + 2:.1f}" y="{base - hgt:.1f}" width="{max(width - 4, 1):.1f}" '
            f'height="{hgt:.1f}" fill="{_BAR}"><title>{_e(label)}: {v:,}</title></rect>'
        )
        if len(values) <= 24:
            body.append(
                f'<text x="{x + width / 2:.1f}" y="{base + 14}" text-anchor="middle" '
                f'font-size="10">{_e(label)}</text>'
            )
    return _frame(title, body, xlabel, ylabel, ymax)


def histogram(
    values: Sequence[float],
    *,
    lo: float,
    hi: float,
    bins: int,
    threshold: float | None,
    title: str,
    xlabel: str,
    mark: str = "",
) -> str:
    """A histogram of ``values`` over ``[lo, hi)`` with the threshold drawn as a red dashed line
    at ``threshold`` (labelled ``mark``, or "threshold T"). With ``hi - lo == bins`` each bin is
    one integer, labelled under its bar."""
    counts = [0] * bins
    span = (hi - lo) or 1.0
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / span * bins)))] += 1
    ymax = max(counts, default=0)
    base, plot_w = _H - _B, _W - _L - _R
    width = plot_w / bins
    integer = hi - lo == bins
    body = []
    for j, c in enumerate(counts):
        hgt = (base - _T) * c / max(ymax, 1)
        a, b = lo + span * j / bins, lo + span * (j + 1) / bins
        what = _fmt(a) if integer else f"[{_fmt(a)}, {_fmt(b)})"
        body.append(
            f'<rect class="bar" x="{_L + j * width + 1:.1f}" y="{base - hgt:.1f}" '
            f'width="{max(width - 2, 1):.1f}" height="{hgt:.1f}" fill="{_BAR}">'
            f"<title>{what}: {c}</title></rect>"
        )
    step = max(1, bins // 16)
    ticks = (
        [(lo + j, _L + width * (j + 0.5)) for j in range(0, bins, step)]
        if integer
        else [(lo + span * j / 10, _L + plot_w * j / 10) for j in range(11)]
    )
    for v, x in ticks:
        body.append(
            f'<text x="{x:.1f}" y="{base + 14}" text-anchor="middle" font-size="10">{_fmt(v)}</text>'
        )
    if threshold is not None and lo <= threshold <= hi:
        x = _L + plot_w * (threshold - lo) / span
        body.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{_T}" x2="{x:.1f}" y2="{base}" '
            f'stroke="{_MARK}" stroke-width="2" stroke-dasharray="5,3" />'
            f'<text x="{x + 4:.1f}" y="{_T + 12}" font-size="11" fill="{_MARK}">'
            f"{_e(mark or 'threshold ' + _fmt(threshold))}</text>"
        )
    return _frame(title, body, xlabel, "pairs", ymax)


def hbars(rows: Sequence[tuple[str, int, int]], *, title: str) -> str:
    """Horizontal bars of removed / total per shard (shard name, removed, documents)."""
    h = _T + 20 * max(len(rows), 1) + 40
    xmax = max((r for _, r, _ in rows), default=0)
    left, plot_w = 200, _W - 200 - _R - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {_W} {h}" '
        f'width="{_W}" height="{h}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{_W}" height="{h}" fill="#ffffff" />',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{_e(title)}</text>",
    ]
    for j, (name, removed, docs) in enumerate(rows):
        y = _T + 20 * j
        w = plot_w * removed / max(xmax, 1)
        short = name if len(name) <= 30 else "…" + name[-29:]
        share = f"{removed / docs:.1%}" if docs else "–"
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">{_e(short)}</text>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="14" '
            f'fill="{_BAR}"><title>{_e(name)}: {removed:,} of {docs:,} removed</title></rect>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}" font-size="10">{removed:,} ({share})</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{h - 8}" text-anchor="middle" font-size="12">'
        "documents removed</text></svg>"
    )
    return "".join(parts)
