"""The report's plots: matplotlib figures rendered to PNG bytes (Agg, no display needed).

Every function returns an image even without data (it then says so), so the
report always has the same plots and a missing one is a bug, not an empty run.
"""
from __future__ import annotations

import io
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from transforms.reports.report_data import MEASURED, REPORT_STATUSES
from transforms.reports.run_reports import KEPT_LOW
from transforms.reports.status_style import STATUS_COLOURS, STATUS_LABELS
from transforms.store.results import SUCCESS

FIGSIZE = (6.4, 3.4)
DPI = 100
# Bounds that keep a plot readable (and quick to draw) for a whole bucket.
MAX_CATEGORIES = 40
MAX_REASONS = 15
MAX_DOTS = 2000


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use.

    The import takes about 0.3 s, and a report whose numbers did not change takes
    its plots from the cache (transforms/reports/preview_cache.py) without it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


def _no_data(ax, text: str = "no clips") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#868e96")
    ax.set_xticks([])
    ax.set_yticks([])


def frame_counts(by_status: Mapping[str, np.ndarray]) -> bytes:
    """Histogram of kept frames per clip, stacked by status, with the saved clips' mean."""
    fig, ax = pyplot().subplots(figsize=FIGSIZE)
    groups = [(s, np.asarray(v)) for s, v in by_status.items() if len(v)]
    if not groups:
        _no_data(ax)
    else:
        everything = np.concatenate([v for _, v in groups])
        bins = np.histogram_bin_edges(everything, bins=min(30, max(5, len(np.unique(everything)))))
        ax.hist([v for _, v in groups], bins=bins, stacked=True, color=[STATUS_COLOURS[s] for s, _ in groups],
                label=[STATUS_LABELS[s] for s, _ in groups], edgecolor="white", linewidth=0.5)
        saved = np.concatenate([v for s, v in groups if s in (SUCCESS, KEPT_LOW)] or [np.zeros(0)])
        if len(saved):
            mean = float(saved.mean())
            ax.axvline(mean, color="#1c7ed6", linestyle="--", linewidth=1.5, label=f"mean of saved clips: {mean:.1f}")
        ax.set_xlabel("kept frames per clip")
        ax.set_ylabel("clips")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(frameon=False, fontsize=8)
    ax.set_title("Clip length")
    return png(fig)


def clips_per_category(categories: Mapping[str, Mapping[str, int]]) -> bytes:
    """Horizontal bars per category, stacked by status, thinnest category at the top (at most MAX_CATEGORIES)."""
    order = sorted(categories, key=lambda c: (sum(categories[c].values()), c))[:MAX_CATEGORIES]
    height = max(FIGSIZE[1], 0.28 * len(order) + 1.2)
    fig, ax = pyplot().subplots(figsize=(FIGSIZE[0], height))
    if not order:
        _no_data(ax)
    else:
        left = np.zeros(len(order))
        for status in REPORT_STATUSES:
            counts = np.array([categories[c].get(status, 0) for c in order], dtype=float)
            if counts.any():
                ax.barh(range(len(order)), counts, left=left, color=STATUS_COLOURS[status],
                        label=STATUS_LABELS[status])
                left += counts
        ax.set_yticks(range(len(order)), [c or "(no category)" for c in order], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("clips")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=5)
    shown = f" (the {len(order)} thinnest of {len(categories)})" if len(order) < len(categories) else ""
    ax.set_title("Clips per category" + shown)
    return png(fig)


def per_status(values: Mapping[str, np.ndarray], title: str, xlabel: str, log: bool = False,
               threshold: Optional[Tuple[float, str]] = None) -> bytes:
    """One box per status with every clip as a dot on it (dots are what matter for few clips)."""
    groups = [(s, np.asarray(v, dtype=float)) for s, v in values.items() if len(v)]
    fig, ax = pyplot().subplots(figsize=FIGSIZE)
    if not groups:
        _no_data(ax, "no measured clips")
    else:
        positions = np.arange(len(groups))
        ax.boxplot([v for _, v in groups], positions=positions, vert=False, widths=0.5, showfliers=False,
                   medianprops={"color": "black"})
        rng = np.random.default_rng(0)  # fixed jitter: the same outputs draw the same plot
        for y, (status, v) in zip(positions, groups):
            if len(v) > MAX_DOTS:
                v = rng.choice(v, MAX_DOTS, replace=False)
            ax.scatter(v, y + rng.uniform(-0.15, 0.15, len(v)), s=14, alpha=0.8, color=STATUS_COLOURS[status],
                       zorder=3)
        ax.set_yticks(positions, [f"{STATUS_LABELS[s]} ({len(v)})" for s, v in groups], fontsize=8)
        ax.invert_yaxis()
        if log and all((v > 0).all() for _, v in groups):
            ax.set_xscale("log")
        if threshold is not None:
            ax.axvline(threshold[0], color="#c92a2a", linestyle=":", linewidth=1.2, label=threshold[1])
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel(xlabel)
    ax.set_title(title)
    return png(fig)


def rejection_reasons(reasons: Mapping[Tuple[str, str], int]) -> bytes:
    """One bar per (status, reason), most frequent first, coloured by status (at most MAX_REASONS)."""
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], REPORT_STATUSES.index(kv[0][0]), kv[0][1]))
    items: Sequence = ranked[:MAX_REASONS]
    fig, ax = pyplot().subplots(figsize=(FIGSIZE[0], max(FIGSIZE[1] * 0.8, 0.32 * len(items) + 1.0)))
    if not items:
        _no_data(ax, "no clip was rejected")
    else:
        # Reasons are long: written above their bar rather than as tick labels squeezing the plot.
        ax.barh(range(len(items)), [n for _, n in items], height=0.45, color=[STATUS_COLOURS[s] for (s, _), _ in items])
        for y, ((status, reason), n) in enumerate(items):
            ax.text(0.01, y - 0.3, f"{STATUS_LABELS[status]}: {reason} ({n})", fontsize=8, va="bottom",
                    transform=ax.get_yaxis_transform())
        ax.set_yticks([])
        ax.set_ylim(len(items) - 0.5, -0.9)
        ax.set_xlabel("clips")
        ax.xaxis.get_major_locator().set_params(integer=True)
    others = sum(n for _, n in ranked[MAX_REASONS:])
    ax.set_title("Why clips were rejected" + (f" ({others} clips with rarer reasons not shown)" if others else ""))
    return png(fig)


def all_plots(stats, run_config: Dict[str, object]) -> Dict[str, bytes]:
    """Every plot of the report by name, from a DatasetStats and the run's configuration."""
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
