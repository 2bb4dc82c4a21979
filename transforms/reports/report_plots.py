"""The report's plots as small SVG images: a histogram, stacked bars, boxes with dots, and labelled bars.

Written here rather than drawn with matplotlib: these five plain charts are a few
dozen SVG elements each, and matplotlib took about half a second of every run
that had new clips to report on (import, layout and PNG rendering), more than
anything else the job does once per run. The browser renders SVG crisply at any
zoom, and the page stays one self-contained file.

Every function returns an image even without data (it then says so), so the
report always has the same plots and a missing one is a bug, not an empty run.
Each draws deterministically: the same numbers give the same bytes.
"""
from __future__ import annotations

import html
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from transforms.reports.report_data import MEASURED, REPORT_STATUSES
from transforms.reports.run_reports import KEPT_LOW
from transforms.reports.status_style import STATUS_COLOURS, STATUS_LABELS
from transforms.store.results import SUCCESS

WIDTH, HEIGHT = 640, 340
FONT = "system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
GREY, INK, GRID = "#868e96", "#212529", "#e9ecef"
# Bounds that keep a plot readable (and quick to draw) for a whole bucket.
MAX_CATEGORIES = 40
MAX_REASONS = 15
MAX_DOTS = 2000


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _width(text: str, size: float) -> float:
    """About how wide a line of text is in the sans-serif fonts above (no font metrics here)."""
    return 0.56 * size * len(text)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:.4g}"


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> List[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


class Svg:
    """One chart: a title, a plot area with margins, and elements in plot coordinates."""

    def __init__(self, title: str, height: int = HEIGHT, left: float = 56, bottom: float = 44, right: float = 16,
                 top: float = 34):
        self.width, self.height = WIDTH, height
        self.left, self.right, self.top, self.bottom = left, WIDTH - right, top, height - bottom
        self.parts = [f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
                      self.text(WIDTH / 2, 20, title, size=14, anchor="middle", weight="600")]

    def text(self, x: float, y: float, text: str, size: float = 11, anchor: str = "start", fill: str = INK,
             weight: str = "normal", rotate: bool = False) -> str:
        turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
        return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
                f'font-weight="{weight}"{turn}>{_e(text)}</text>')

    def add(self, element: str) -> None:
        self.parts.append(element)

    def no_data(self, words: str) -> None:
        self.add(self.text(WIDTH / 2, (self.top + self.bottom) / 2, words, size=13, anchor="middle", fill=GREY))

    def legend(self, entries: Sequence[Tuple[str, str, str]], y: Optional[float] = None) -> None:
        """entries: (label, colour, kind: box | dash | dot), laid out right-aligned in one row."""
        x, y = self.right, self.top + 12 if y is None else y
        for label, colour, kind in reversed(entries):
            x -= _width(label, 10) + 6
            self.add(self.text(x + 4, y + 4, label, size=10))
            x -= 12
            if kind == "box":
                self.add(f'<rect x="{x:.1f}" y="{y - 4:.1f}" width="10" height="10" fill="{colour}"/>')
            else:
                dash = ' stroke-dasharray="4 3"' if kind == "dash" else ' stroke-dasharray="1.5 2"'
                self.add(f'<line x1="{x - 2:.1f}" y1="{y + 1:.1f}" x2="{x + 12:.1f}" y2="{y + 1:.1f}" '
                         f'stroke="{colour}" stroke-width="1.6"{dash}/>')
            x -= 10

    def bytes(self) -> bytes:
        body = "".join(self.parts)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" font-family="{FONT}">{body}</svg>').encode("utf-8")


class Axis:
    """A linear (or log) scale from data values to pixels."""

    def __init__(self, low: float, high: float, start: float, end: float, log: bool = False):
        self.log = log
        self.low, self.high = (math.log10(low), math.log10(high)) if log else (low, high)
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        span = (self.high - self.low) or 1.0
        return self.start + (v - self.low) / span * (self.end - self.start)


def _x_axis(svg: Svg, axis: Axis, ticks: Sequence[float], label: str) -> None:
    svg.add(f'<line x1="{svg.left}" y1="{svg.bottom}" x2="{svg.right}" y2="{svg.bottom}" stroke="{GREY}"/>')
    for t in ticks:
        x = axis(t)
        svg.add(f'<line x1="{x:.1f}" y1="{svg.top}" x2="{x:.1f}" y2="{svg.bottom}" stroke="{GRID}"/>')
        svg.add(svg.text(x, svg.bottom + 14, _number(t), size=10, anchor="middle", fill=GREY))
    svg.add(svg.text((svg.left + svg.right) / 2, svg.bottom + 32, label, size=11, anchor="middle"))


def _log_ticks(low: float, high: float) -> List[float]:
    return [10.0 ** p for p in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def frame_counts(by_status: Mapping[str, np.ndarray]) -> bytes:
    """Histogram of kept frames per clip, stacked by status, with the saved clips' mean."""
    svg = Svg("Clip length")
    groups = [(s, np.asarray(v, dtype=float)) for s, v in by_status.items() if len(v)]
    if not groups:
        svg.no_data("no clips")
        return svg.bytes()
    everything = np.concatenate([v for _, v in groups])
    edges = np.histogram_bin_edges(everything, bins=min(30, max(5, len(np.unique(everything)))))
    counts = [np.histogram(v, bins=edges)[0] for _, v in groups]
    tallest = int(np.sum(counts, axis=0).max())
    y_ticks = nice_ticks(0, max(tallest, 1), 5, integer=True)
    x_ticks = nice_ticks(float(edges[0]), float(edges[-1]), 6)
    x = Axis(min(x_ticks[0], edges[0]), max(x_ticks[-1], edges[-1]), svg.left, svg.right)
    y = Axis(0, y_ticks[-1], svg.bottom, svg.top + 20)
    for t in y_ticks:
        svg.add(f'<line x1="{svg.left}" y1="{y(t):.1f}" x2="{svg.right}" y2="{y(t):.1f}" stroke="{GRID}"/>')
        svg.add(svg.text(svg.left - 6, y(t) + 4, _number(t), size=10, anchor="end", fill=GREY))
    svg.add(svg.text(14, (svg.top + svg.bottom) / 2, "clips", rotate=True, anchor="middle"))
    _x_axis(svg, x, [t for t in x_ticks if x.start <= x(t) <= x.end], "kept frames per clip")
    below = np.zeros(len(edges) - 1)
    for (status, _), n in zip(groups, counts):
        for i, c in enumerate(n):
            if c:
                x0, x1 = x(edges[i]), x(edges[i + 1])
                svg.add(f'<rect x="{x0 + 0.5:.1f}" y="{y(below[i] + c):.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
                        f'height="{y(below[i]) - y(below[i] + c):.1f}" fill="{STATUS_COLOURS[status]}"/>')
        below += n
    entries = [(STATUS_LABELS[s], STATUS_COLOURS[s], "box") for s, _ in groups]
    saved = np.concatenate([v for s, v in groups if s in (SUCCESS, KEPT_LOW)] or [np.zeros(0)])
    if len(saved):
        mean = float(saved.mean())
        svg.add(f'<line x1="{x(mean):.1f}" y1="{svg.top + 20}" x2="{x(mean):.1f}" y2="{svg.bottom}" '
                f'stroke="#1c7ed6" stroke-width="1.6" stroke-dasharray="4 3"/>')
        entries.append((f"mean of saved clips: {mean:.1f}", "#1c7ed6", "dash"))
    svg.legend(entries)
    return svg.bytes()


def clips_per_category(categories: Mapping[str, Mapping[str, int]]) -> bytes:
    """Horizontal bars per category, stacked by status, thinnest category at the top (at most MAX_CATEGORIES)."""
    order = sorted(categories, key=lambda c: (sum(categories[c].values()), c))[:MAX_CATEGORIES]
    names = [c or "(no category)" for c in order]
    left = min(220, 16 + max((_width(n, 10) for n in names), default=40))
    height = max(HEIGHT, int(22 * len(order) + 110))
    shown = f" (the {len(order)} thinnest of {len(categories)})" if len(order) < len(categories) else ""
    svg = Svg("Clips per category" + shown, height=height, left=left, bottom=62)
    if not order:
        svg.no_data("no clips")
        return svg.bytes()
    totals = [sum(categories[c].values()) for c in order]
    x_ticks = nice_ticks(0, max(totals), 5, integer=True)
    x = Axis(0, x_ticks[-1], svg.left, svg.right)
    _x_axis(svg, x, x_ticks, "clips")
    row = (svg.bottom - svg.top) / len(order)
    present = []
    for i, (category, name) in enumerate(zip(order, names)):
        y0, start = svg.top + i * row, 0
        svg.add(svg.text(svg.left - 6, y0 + row / 2 + 4, name if len(name) <= 34 else name[:33] + "…", size=10,
                         anchor="end"))
        for status in REPORT_STATUSES:
            n = categories[category].get(status, 0)
            if n:
                present.append(status)
                svg.add(f'<rect x="{x(start):.1f}" y="{y0 + row * 0.15:.1f}" width="{x(start + n) - x(start):.1f}" '
                        f'height="{row * 0.7:.1f}" fill="{STATUS_COLOURS[status]}"/>')
                start += n
    svg.legend([(STATUS_LABELS[s], STATUS_COLOURS[s], "box") for s in REPORT_STATUSES if s in present],
               y=svg.bottom + 50)
    return svg.bytes()


def per_status(values: Mapping[str, np.ndarray], title: str, xlabel: str, log: bool = False,
               threshold: Optional[Tuple[float, str]] = None) -> bytes:
    """One box per status (quartiles, median, whiskers to the furthest clip within 1.5 IQR) with every clip as
    a dot on it (dots are what matter for few clips)."""
    groups = [(s, np.asarray(v, dtype=float)) for s, v in values.items() if len(v)]
    labels = [f"{STATUS_LABELS[s]} ({len(v)})" for s, v in groups]
    left = 16 + max((_width(label, 10) for label in labels), default=40)
    svg = Svg(title, left=left)
    if not groups:
        svg.no_data("no measured clips")
        return svg.bytes()
    everything = np.concatenate([v for _, v in groups])
    log = log and bool((everything > 0).all())
    low, high = float(everything.min()), float(everything.max())
    if threshold is not None and (threshold[0] > 0 or not log):
        low, high = min(low, threshold[0]), max(high, threshold[0])
    if log:
        ticks = _log_ticks(low, high)
    else:
        ticks = nice_ticks(low, high, 5) if high > low else nice_ticks(low - 0.5, high + 0.5, 4)
    x = Axis(ticks[0], ticks[-1], svg.left, svg.right, log=log)
    _x_axis(svg, x, ticks, xlabel)
    row = (svg.bottom - svg.top - 20) / len(groups)
    rng = np.random.default_rng(0)  # fixed jitter: the same outputs draw the same plot
    for i, ((status, v), label) in enumerate(zip(groups, labels)):
        middle = svg.top + 20 + (i + 0.5) * row
        svg.add(svg.text(svg.left - 6, middle + 4, label, size=10, anchor="end"))
        q1, median, q3 = np.percentile(v, [25, 50, 75])
        reach = 1.5 * (q3 - q1)
        lo, hi = v[v >= q1 - reach].min(), v[v <= q3 + reach].max()
        half = min(row * 0.3, 18)
        svg.add(f'<line x1="{x(lo):.1f}" y1="{middle:.1f}" x2="{x(hi):.1f}" y2="{middle:.1f}" stroke="{INK}"/>')
        svg.add(f'<rect x="{x(q1):.1f}" y="{middle - half:.1f}" width="{max(x(q3) - x(q1), 1):.1f}" '
                f'height="{2 * half:.1f}" fill="#fff" stroke="{INK}"/>')
        svg.add(f'<line x1="{x(median):.1f}" y1="{middle - half:.1f}" x2="{x(median):.1f}" y2="{middle + half:.1f}" '
                f'stroke="{INK}" stroke-width="2"/>')
        shown = rng.choice(v, MAX_DOTS, replace=False) if len(v) > MAX_DOTS else v
        jitter = rng.uniform(-0.6, 0.6, len(shown)) * half
        svg.add("".join(f'<circle cx="{x(value):.1f}" cy="{middle + j:.1f}" r="3" fill="{STATUS_COLOURS[status]}" '
                        f'fill-opacity="0.8"/>' for value, j in zip(shown, jitter)))
    if threshold is not None and (threshold[0] > 0 or not log):
        tx = x(threshold[0])
        svg.add(f'<line x1="{tx:.1f}" y1="{svg.top + 20}" x2="{tx:.1f}" y2="{svg.bottom}" stroke="#c92a2a" '
                f'stroke-width="1.4" stroke-dasharray="1.5 2"/>')
        svg.legend([(threshold[1], "#c92a2a", "dots")])
    return svg.bytes()


def rejection_reasons(reasons: Mapping[Tuple[str, str], int]) -> bytes:
    """One bar per (status, reason), most frequent first, coloured by status (at most MAX_REASONS)."""
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], REPORT_STATUSES.index(kv[0][0]), kv[0][1]))
    items = ranked[:MAX_REASONS]
    others = sum(n for _, n in ranked[MAX_REASONS:])
    height = max(int(HEIGHT * 0.8), int(34 * len(items) + 90))
    svg = Svg("Why clips were rejected" + (f" ({others} clips with rarer reasons not shown)" if others else ""),
              height=height, left=16)
    if not items:
        svg.no_data("no clip was rejected")
        return svg.bytes()
    x_ticks = nice_ticks(0, max(n for _, n in items), 5, integer=True)
    x = Axis(0, x_ticks[-1], svg.left, svg.right)
    _x_axis(svg, x, x_ticks, "clips")
    row = (svg.bottom - svg.top - 8) / len(items)
    for i, ((status, reason), n) in enumerate(items):
        y0 = svg.top + 8 + i * row
        # Reasons are long: written above their bar rather than as tick labels squeezing the plot.
        svg.add(svg.text(svg.left + 2, y0 + row * 0.4, f"{STATUS_LABELS[status]}: {reason} ({n})", size=10))
        svg.add(f'<rect x="{x(0):.1f}" y="{y0 + row * 0.5:.1f}" width="{x(n) - x(0):.1f}" height="{row * 0.38:.1f}" '
                f'fill="{STATUS_COLOURS[status]}"/>')
    return svg.bytes()


def all_plots(stats, run_config: Mapping[str, object]) -> Dict[str, bytes]:
    """Every plot of the report by name (SVG bytes), from a DatasetStats and the run's configuration."""
    measured = {s: stats.values[s] for s in MEASURED}
    motion_floor = run_config.get("motion_rejection_threshold")
    min_ratio = run_config.get("min_valid_ratio")
    return {
        "frame_counts": frame_counts({s: v["num_frames"] for s, v in measured.items()}),
        "categories": clips_per_category(stats.categories),
        "detection_ratio": per_status(
            {s: v["detection_ratio"] for s, v in measured.items()}, "Detection ratio per status",
            "frames with pose or a hand / frames read",
            threshold=(min_ratio, "min_valid_ratio") if min_ratio is not None else None),
        "motion": per_status(
            {s: v["motion_mean"] for s, v in measured.items()}, "Motion energy per status",
            "mean motion energy of the kept frames", log=True,
            threshold=(motion_floor, "motion_rejection_threshold") if motion_floor is not None else None),
        "reasons": rejection_reasons(stats.reasons),
    }
