"""proc/report.html: one self-contained page (CSS inline, images as data: URIs, no script, no network).

Every number taken from run_summary.json sits in an element with
`data-summary="<key>"` (dotted for nested keys, e.g. counts.success) and every
number computed from the CSVs in one with `data-metric="<name>"` (names of
report_data.dataset_numbers), so tools and tests can read them back. Plot
images carry `data-plot`, preview images `data-preview`. The duplicate audit's
counts (run_summary.json's "duplicates") sit in `data-duplicates="<key>"`, and
each example copy's row in `data-duplicate="<video_file>"`.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime
import html
import json
from typing import Dict, Mapping, Optional, Sequence


from transforms.common import storage
from transforms.duplicates import audit as dup_audit
from transforms.reports import duplicates_report, preview_cache, report_plots, skeleton_preview
from transforms.reports.report_data import (MAX_TABLE_ROWS, REPORT_STATUSES, DatasetStats, ReportClip,
                                            dataset_numbers, picks, report_clips)
from transforms.reports.report_previews import Preview, draw_previews
from transforms.reports.run_reports import RunOutputs
from transforms.reports.status_style import STATUS_COLOURS, STATUS_LABELS
from transforms.store.paths import proc_path

REPORT_HTML = "report.html"
MAX_DUPLICATE_EXAMPLES = 20

PLOT_TITLES = {
    "frame_counts": "Kept frames per clip",
    "categories": "Clips per category",
    "detection_ratio": "Detection ratio per status",
    "motion": "Motion energy per status",
    "reasons": "Rejection reasons",
}

# run_summary.json's numbers, in the order shown; a key an older run did not write is left out.
RUN_NUMBERS = (
    ("videos_decoded", "Videos decoded in this run"),
    ("videos_changed", "… of which changed since an earlier run"),
    ("videos_recomputed", "Videos whose features were recomputed from their stored landmarks (not decoded)"),
    ("videos_reused", "Videos reused from an earlier run (not decoded again)"),
    ("frames_decoded", "Frames decoded in this run"),
    ("frames_reused", "Frames of the reused videos"),
    ("frames_saved", "Frames saved"),
    ("orphaned_outputs", "Orphaned outputs (rows no longer in the metadata; orphaned_outputs.csv)"),
    ("orphans_deleted", "… of which deleted"),
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#212529;background:#f8f9fa}
main{max-width:1280px;margin:0 auto;padding:20px 28px 40px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
.sub{color:#868e96;margin:0 0 16px}.sub code{color:#495057}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:8px 14px;min-width:104px}
.card .n{font-size:22px;font-weight:600}.card .l{color:#868e96;font-size:12px}
.card.s-success{border-top:4px solid %(success)s}.card.s-kept_low{border-top:4px solid %(kept_low)s}
.card.s-low_quality{border-top:4px solid %(low_quality)s}.card.s-failed{border-top:4px solid %(failed)s}
.card.s-missing{border-top:4px solid %(missing)s}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.two{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.plots figure{margin:0;background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:6px}
.plots img{max-width:100%%;height:auto}
.badge{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;font-size:12px}
.previews{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
.preview{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:8px;font-size:12px}
.preview img{display:block;max-width:100%%;margin:0 auto 6px;border-radius:4px}
.preview .none{height:120px;display:flex;align-items:center;justify-content:center;text-align:center;
 background:#f1f3f5;color:#868e96;border-radius:4px;padding:8px;margin-bottom:6px}
.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;
 margin-right:4px;vertical-align:-1px;border:1px solid #adb5bd}
.warn{background:#fff3bf;border:1px solid #fcc419;padding:8px 12px;border-radius:6px}
details{margin-top:8px}pre{background:#fff;border:1px solid #dee2e6;padding:8px;overflow:auto;font-size:12px}
""" % STATUS_COLOURS


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def fmt(value) -> str:
    """How the report prints a number: integers whole, other numbers with 4 significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.4g}"


def _summary_value(summary: Mapping, key: str) -> str:
    value = summary
    for part in key.split("."):
        value = value[part]
    # run_summary.json's own text for the number: the report must show exactly what the run recorded.
    return f'<span data-summary="{_e(key)}">{_e(json.dumps(value))}</span>'


def _metric(numbers: Mapping, name: str) -> str:
    return f'<span data-metric="{_e(name)}">{_e(fmt(numbers[name]))}</span>'


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{STATUS_COLOURS[status]}">{_e(STATUS_LABELS[status])}</span>'


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def write_report_page(outputs: RunOutputs, video_dir: Optional[str], overlay: bool, samples: int,
                      max_previews: int) -> str:
    """Picks, draws (or takes from the cache) and renders the page; publishes OUT/proc/report.html, returns its path."""
    out, summary = outputs.output_dir, outputs.summary
    chosen = (outputs.page_picks if outputs.page_picks is not None
              else picks(report_clips(outputs.results, out), samples, max_previews))
    known_versions = any(c.features_version or c.landmarks_version for c in chosen.previews)
    cached = preview_cache.read(out) if known_versions else {}
    previews = draw_previews(chosen.previews, out, summary["config"], video_dir, overlay, cached)
    kept = {p.cache_key: {"source": p.source, "gif": p.gif, "frames": p.frames, "frames_shown": p.frames_shown}
            for p in previews if p.cache_key and p.gif is not None}
    if known_versions and set(kept) != set(cached):
        storage.write_text(proc_path(out, preview_cache.PREVIEWS_JSON), preview_cache.text(kept))
    plots = report_plots.all_plots(chosen.stats, summary["config"])
    path = proc_path(out, REPORT_HTML)
    generated_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    storage.write_text(path, render(summary, chosen.stats, chosen.problems, previews, plots, out, generated_at,
                                    MAX_TABLE_ROWS, _duplicate_examples(outputs)))
    return path


def _duplicate_examples(outputs: RunOutputs):
    """(copies' rows, sentence-id rows) as proc/duplicates.csv and sentence_duplicates.csv hold them: from the
    audit the job just made, else read back (pipeline.report); None when the run wrote none."""
    if outputs.duplicates is not None:
        return dup_audit.duplicate_rows(outputs.duplicates), dup_audit.text_rows(outputs.duplicates)
    return duplicates_report.read_reports(outputs.output_dir)


def render(summary: Mapping, stats: DatasetStats, problems: Sequence[ReportClip], previews: Sequence[Preview],
           plots: Mapping[str, bytes], output_dir: str, generated_at: str, max_table_rows: int,
           duplicates=None) -> str:
    numbers = dataset_numbers(stats)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>GhSL dataset report – {_e(output_dir)}</title><style>{_CSS}</style></head><body><main>",
        "<h1>GhSL dataset report</h1>",
        f'<p class="sub">Outputs <code>{_e(output_dir)}</code> · generated {_e(generated_at)} · features '
        f'{_e(summary.get("versions", {}).get("feature_definition", "?"))}</p>',
        _consistency(summary, stats),
        _summary_section(summary, numbers),
        _plots_section(plots),
        _problems_section(problems, stats, max_table_rows),
        _duplicates_section(summary.get("duplicates"), duplicates),
        _previews_section(previews),
        _config_section(summary),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _consistency(summary: Mapping, stats: DatasetStats) -> str:
    from_csv = stats.counts()
    recorded = summary.get("counts", {})
    differ = [s for s in from_csv if recorded.get(s) != from_csv[s]]
    if not differ:
        return ""
    detail = ", ".join(f"{s}: {from_csv[s]} in the CSVs, {recorded.get(s)} in run_summary.json" for s in differ)
    return (f'<p class="warn">The CSVs and run_summary.json disagree ({_e(detail)}): they come from different '
            f"runs or were edited. The counts below are run_summary.json's.</p>")


def _summary_section(summary: Mapping, numbers: Dict[str, Optional[float]]) -> str:
    cards = [f'<div class="card"><div class="n">{_summary_value(summary, "rows")}</div>'
             f'<div class="l">metadata rows</div></div>']
    for status in REPORT_STATUSES:
        cards.append(f'<div class="card s-{status}"><div class="n">{_summary_value(summary, "counts." + status)}'
                     f'</div><div class="l">{_e(STATUS_LABELS[status])}</div></div>')
    rows = [(label, _summary_value(summary, key)) for key, label in RUN_NUMBERS if key in summary]
    rows += [
        ("Kept frames per saved clip",
         f'mean {_metric(numbers, "frames_mean")} · median {_metric(numbers, "frames_median")} · '
         f'min {_metric(numbers, "frames_min")} · max {_metric(numbers, "frames_max")}'),
        ("Detection ratio (median over saved clips)", _metric(numbers, "detection_ratio_median")),
        ("Mean pose visibility (median over saved clips)", _metric(numbers, "visibility_median")),
        ("Motion energy, clip mean (saved clips)",
         f'median {_metric(numbers, "motion_median")} · 95th percentile {_metric(numbers, "motion_p95")}'),
        ("Unique sentences (saved clips)", _metric(numbers, "unique_sentences")),
        ("Saved clips per sentence",
         f'mean {_metric(numbers, "clips_per_sentence_mean")} · min {_metric(numbers, "clips_per_sentence_min")}'
         f' · max {_metric(numbers, "clips_per_sentence_max")}'),
        ("Categories", _metric(numbers, "categories")),
        ("Run time", f'{_summary_value(summary, "wall_seconds")} s'),
    ]
    if "dominant_hands" in summary:
        rows.append(("Dominant hand of the saved clips (docs/features-v2.md)", " · ".join(
            f"{hand} {_summary_value(summary, 'dominant_hands.' + hand)}" for hand in summary["dominant_hands"])))
    # A feature version that knows which parts were seen says it (FeatureVersion.presence_rates).
    for part, rate in (summary.get("presence_rates") or {}).items():
        rows.append((f"Saved frames with the {part.replace('_', ' ')} seen",
                     f'<span data-presence="{_e(part)}">{rate:.1%}</span>'))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h2>Summary</h2><div class="cards">{"".join(cards)}</div><h2>Numbers</h2><table>{table}</table>'


def _plots_section(plots: Mapping[str, bytes]) -> str:
    figures = "".join(
        f'<figure><img data-plot="{_e(name)}" alt="{_e(PLOT_TITLES.get(name, name))}" '
        f'src="{_data_uri("image/svg+xml", data)}"></figure>' for name, data in plots.items())
    return f'<h2>Plots</h2><div class="plots">{figures}</div>'


def _problems_section(problems: Sequence[ReportClip], stats: DatasetStats, max_rows: int) -> str:
    total = sum(stats.reasons.values())
    if not total:
        return "<h2>Rejected clips</h2><p>None: every clip was saved.</p>"
    note = ""
    if total > len(problems):
        note = (f"<p>The first {len(problems)} of {total} (limit {max_rows}); every one is in "
                f"low_quality_videos.csv, failed_videos.csv and missing_videos.csv.</p>")
    body = "".join(
        f"<tr><td>{_badge(c.status)}</td><td>{_e(c.video_file)}</td><td>{_e(c.category)}</td>"
        f"<td>{_e(c.sentence)}</td><td class=num>{_e(fmt(c.num_frames))}</td><td>{_e(c.reason)}</td></tr>"
        for c in sorted(problems, key=lambda c: (REPORT_STATUSES.index(c.status), c.video_file)))
    return (f"<h2>Rejected clips ({total})</h2>{note}<table><tr><th>status</th><th>video_file</th><th>category</th>"
            f"<th>sentence</th><th>kept frames</th><th>reason</th></tr>{body}</table>")


def _duplicates_section(counts: Optional[Mapping], examples) -> str:
    """The duplicate audit: how many copies and families, and the first of them (docs/duplicates.md)."""
    if counts is None or examples is None:
        return ("<h2>Duplicate recordings</h2><p>Not audited: this run finished before the duplicate audit existed "
                "(run pipeline.run again; no video is decoded for it).</p>")
    copies, sentences = examples

    def n(key):
        return f'<span data-duplicates="{_e(key)}">{_e(json.dumps(counts[key]))}</span>'

    how = ("links found by searching every saved clip" if counts["searched"] else
           "links reused: the saved clips are those of the last audit")
    text = (f"<p>{n('copies')} of {n('clips')} saved clips are copies of another ({n('exact')} exact, {n('near')} "
            f"near) in {n('families')} families; {n('same_sentence_id')} of them under their original's sentence id. "
            f"{n('text_groups')} groups of sentence ids share one text. Audit {_e(counts['version'])}, threshold "
            f"{_e(fmt(counts['threshold']))}; {how}. Each family is kept in one split of the release; every copy is "
            f"in proc/duplicates.csv, every sentence id in proc/sentence_duplicates.csv.</p>")
    shown = copies[:MAX_DUPLICATE_EXAMPLES]
    if shown:
        note = (f"<p>The first {len(shown)} of {len(copies)}.</p>" if len(copies) > len(shown) else "")
        body = "".join(
            f'<tr data-duplicate="{_e(r["video_file"])}"><td>{_e(r["video_file"])}</td><td>{_e(r["duplicate_of"])}</td>'
            f'<td>{_e(r["kind"])}</td><td class=num>{_e(r["similarity"])}</td><td>{_e(r["mirrored"])}</td>'
            f'<td>{_e(r["sentence_id"])}</td><td>{_e(r["duplicate_of_sentence_id"])}</td></tr>' for r in shown)
        text += (f"{note}<table><tr><th>video_file</th><th>copy of</th><th>kind</th><th>similarity</th>"
                 f"<th>mirrored</th><th>sentence_id</th><th>its sentence_id</th></tr>{body}</table>")
    if sentences:
        body = "".join(f"<tr><td>{_e(r['sentence_id'])}</td><td>{_e(r['duplicate_of'])}</td>"
                       f"<td>{_e(r['normalized_text'])}</td></tr>" for r in sentences[:MAX_DUPLICATE_EXAMPLES])
        text += (f"<details><summary>Sentence ids with one text</summary><table><tr><th>sentence_id</th>"
                 f"<th>same text as</th><th>text (normalized)</th></tr>{body}</table></details>")
    return f"<h2>Duplicate recordings</h2>{text}"


def _previews_section(previews: Sequence[Preview]) -> str:
    if not previews:
        return "<h2>Skeleton previews</h2><p>No clip to preview.</p>"
    swatches = "".join(f'<span><i style="background:rgb{colour}"></i>{name}</span>' for name, colour in (
        ("pose", skeleton_preview.POSE_COLOUR), ("left hand", skeleton_preview.LEFT_HAND_COLOUR),
        ("right hand", skeleton_preview.RIGHT_HAND_COLOUR), ("face", skeleton_preview.FACE_COLOUR)))
    legend = (f'<p class="legend">{swatches}'
              "Features are torso-normalized and drawn in one fixed view per clip, y down; overlays draw the "
              f"raw landmarks on the video frames. Pose landmarks with visibility below "
              f"{skeleton_preview.MIN_VISIBILITY} and parts that were not detected are left out.</p>")
    cards = []
    for p in sorted(previews, key=lambda p: (REPORT_STATUSES.index(p.status), p.video_file)):
        if p.gif is not None:
            image = (f'<img data-preview="{_e(p.video_file)}" alt="skeleton of {_e(p.video_file)}" '
                     f'src="{_data_uri("image/gif", p.gif)}">')
            source = f"{_e(p.source)} · {p.frames} frames, {p.frames_shown} shown"
        else:
            image = (f'<div class="none" data-unavailable="{_e(p.video_file)}">'
                     f"Preview unavailable: {_e(p.unavailable)}</div>")
            source = ""
        reason = f"<br>{_e(p.reason)}" if p.reason else ""
        cards.append(f'<div class="preview">{image}<b>{_e(p.video_file)}</b> {_badge(p.status)}<br>'
                     f'{_e(p.sentence)} <span style="color:#868e96">({_e(p.category)})</span>{reason}'
                     f'<br><span style="color:#868e96">{source}</span></div>')
    return f'<h2>Skeleton previews</h2>{legend}<div class="previews">{"".join(cards)}</div>'


def _config_section(summary: Mapping) -> str:
    config = dict(summary.get("config", {}))
    beam_options = config.pop("beam_options", {})
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v if isinstance(v, str) else json.dumps(v))}</td></tr>"
                   for k, v in config.items())
    versions = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary.get("versions", {}).items())
    return (f'<h2>Configuration</h2><div class="two"><table>{rows}</table><table>{versions}</table></div>'
            f"<details><summary>Beam options</summary><pre>{_e(json.dumps(beam_options, indent=2))}</pre></details>")


def with_report_page(outputs: RunOutputs, video_dir: Optional[str], overlay: bool, samples: int,
                     max_previews: int) -> RunOutputs:
    """The job's step: writes the page, passes the outputs on with only the saved clips' results, all that
    the release after it reads (a run's every row need not travel further)."""
    write_report_page(outputs, video_dir, overlay, samples, max_previews)
    return dataclasses.replace(outputs, results=outputs.saved, page_picks=None)
