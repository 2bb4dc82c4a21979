"""proc/report.html, built from real pipeline output on the real signing clips.

One pipeline run (model_complexity 1, min_frames 20) over the four clips, a
missing row and a broken file gives every status; the report is then built
from those outputs and looked at in headless Chromium.
"""
import base64
import html
import html.parser
import io
import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import browser
from pipeline import report as report_entry
from pipeline import run as run_entry
from pipeline.options import GhslOptions
from transforms.reports import report_html
from transforms.reports import skeleton_preview
from transforms.common import storage
from transforms.reports.report_data import dataset_numbers
from transforms.reports.report_previews import NOT_SAVED, OVERLAY, REEXTRACTED, SAVED, STORED
from transforms.store.paths import proc_path

CLIPS_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sign_clips")
CLIPS = {"FOOTBALL.mp4": ("1", "I like football", "sports"), "SOUP.mp4": ("2", "The soup is hot", "food"),
         "sample_video.mp4": ("3", "Hello", "greetings"), "test_video.mp4": ("4", "Good morning", "greetings")}
PLOTS = {"frame_counts", "categories", "detection_ratio", "motion", "reasons"}

needs_clips = pytest.mark.skipif(not os.path.isdir(CLIPS_DIR),
                                 reason=f"the real signing clips are not at {CLIPS_DIR} (see SOURCES.md there)")
needs_browser = pytest.mark.skipif(browser.find_browser() is None,
                                   reason=f"no headless browser: {browser.INSTALL_HINT}")

IMAGE_CHECK = """<script>
window.addEventListener('load', () => {
  const found = [...document.images].map(i => ({
    plot: i.dataset.plot || null, preview: i.dataset.preview || null,
    width: i.naturalWidth, height: i.naturalHeight, complete: i.complete}));
  const out = document.createElement('pre');
  out.id = 'image-check';
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


def run_pipeline(tmp, rows, *flags):
    """Symlinks the clips (never copies) next to a broken file, writes the metadata, runs the job."""
    videos = tmp / "videos"
    videos.mkdir()
    for name in CLIPS:
        (videos / name).symlink_to(os.path.abspath(os.path.join(CLIPS_DIR, name)))
    (videos / "broken.mp4").write_bytes(b"not a video")
    metadata = tmp / "metadata.csv"
    metadata.write_text("video_file,sentence_id,sentence,category\n" + "".join(f"{r}\n" for r in rows))
    out = tmp / "out"
    code = run_entry.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                           "--model_complexity=1", "--min_frames=20", *flags])
    assert code == 0
    return str(out), str(videos)


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    if not os.path.isdir(CLIPS_DIR):
        pytest.skip(f"the real signing clips are not at {CLIPS_DIR}")
    rows = [f"{name},{sid},{sentence},{category}" for name, (sid, sentence, category) in CLIPS.items()]
    rows += ["nothere.mp4,5,Missing one,food", "broken.mp4,6,Broken one,sports"]
    return run_pipeline(tmp_path_factory.mktemp("run"), rows)


def build_report(out, *options) -> str:
    """pipeline.report's build, as `python -m pipeline.report --output_dir=OUT [options]` runs it."""
    return report_entry.build_report(PipelineOptions([f"--output_dir={out}", *options]).view_as(GhslOptions))


@pytest.fixture(scope="module")
def built(run_output):
    out, videos = run_output
    path = build_report(out, f"--video_dir={videos}")
    with open(path, encoding="utf-8") as handle:
        return path, handle.read()


@pytest.fixture(scope="module")
def summary(run_output):
    with open(proc_path(run_output[0], "run_summary.json")) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def in_browser(built, tmp_path_factory):
    """The report as Chromium shows it: a screenshot and the DOM after an image check ran.

    The check runs on a copy with one script added; images are data: URIs, so the copy loads the same.
    """
    if browser.find_browser() is None:
        pytest.skip(f"no headless browser: {browser.INSTALL_HINT}")
    path, page = built
    tmp = tmp_path_factory.mktemp("browser")
    checked = tmp / "report-checked.html"
    checked.write_text(page.replace("</body>", IMAGE_CHECK + "</body>"), encoding="utf-8")
    shot = browser.screenshot(path, str(tmp / "report.png"), width=1280, height=2000)
    return shot, browser.dump_dom(str(checked))


class Marked(html.parser.HTMLParser):
    """Text of every element carrying data-summary / data-metric, by key."""

    VOID = {"img", "br", "meta", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.found = {}
        self._open = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        attrs = dict(attrs)
        key = attrs.get("data-summary") and ("summary", attrs["data-summary"]) or (
            attrs.get("data-metric") and ("metric", attrs["data-metric"]))
        self._open.append([key, ""] if key else None)

    def handle_endtag(self, tag):
        if self._open:
            item = self._open.pop()
            if item:
                self.found[item[0]] = item[1]

    def handle_data(self, data):
        for item in self._open:
            if item:
                item[1] += data


def marked(page):
    parser = Marked()
    parser.feed(page)
    return parser.found


def summary_value(summary, key):
    for part in key.split("."):
        summary = summary[part]
    return summary


@needs_clips
def test_report_is_written_next_to_the_csvs(run_output, built):
    assert built[0] == proc_path(run_output[0], "report.html")
    assert os.path.isfile(built[0])


@needs_clips
def test_report_needs_no_network(built):
    # Self-contained: no src/href pointing anywhere but an embedded data: URI.
    assert not re.findall(r'(?:src|href)="(?!data:)', built[1])
    assert "<script" not in built[1]


@needs_clips
@needs_browser
def test_every_plot_and_preview_image_loads_in_chromium(in_browser, built):
    _, dom = in_browser
    found = json.loads(html.unescape(re.search(r'<pre id="image-check">(.*?)</pre>', dom, re.S).group(1)))
    assert {i["plot"] for i in found if i["plot"]} == PLOTS
    previews = [i["preview"] for i in found if i["preview"]]
    assert sorted(previews) == ["FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4"]
    assert len(found) == len(PLOTS) + len(previews) == built[1].count("<img ")
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in found), found


@needs_clips
@needs_browser
def test_screenshot_shows_the_page(in_browser):
    shot, _ = in_browser
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape == (2000, 1280, 3)
    # A blank or error page is near-uniform; the report has dark previews and coloured plots.
    assert image.std() > 20
    assert len(np.unique(image.reshape(-1, 3)[::97], axis=0)) > 200


@needs_clips
@needs_browser
def test_numbers_shown_equal_run_summary(in_browser, summary):
    shown = {key: text for (kind, key), text in marked(in_browser[1]).items() if kind == "summary"}
    expected_keys = {"rows", "wall_seconds", *(key for key, _ in report_html.RUN_NUMBERS if key in summary),
                     *(f"counts.{s}" for s in ("success", "kept_low", "low_quality", "failed", "missing")),
                     *(f"dominant_hands.{hand}" for hand in ("left", "right", "unknown"))}
    assert {"frames_decoded", "frames_saved"} <= expected_keys
    assert set(shown) == expected_keys
    for key, text in shown.items():
        assert json.loads(text) == summary_value(summary, key), key
    assert summary["counts"] == {"success": 3, "kept_low": 0, "low_quality": 1, "failed": 1, "missing": 1}
    assert sum(summary["dominant_hands"].values()) == summary["counts"]["success"]


@needs_clips
def test_other_numbers_are_computed_from_the_csvs(run_output, built):
    saved = pd.read_csv(proc_path(run_output[0], "processed_metadata.csv"))
    per_sentence = saved.groupby("sentence_id").size()
    expected = {
        "frames_mean": saved.num_frames.mean(), "frames_median": saved.num_frames.median(),
        "frames_min": saved.num_frames.min(), "frames_max": saved.num_frames.max(),
        "detection_ratio_median": saved.detection_ratio.median(),
        "visibility_median": saved.mean_visibility.median(),
        "motion_median": saved.motion_mean.median(), "motion_p95": np.percentile(saved.motion_mean, 95),
        "unique_sentences": len(per_sentence), "clips_per_sentence_mean": per_sentence.mean(),
        "clips_per_sentence_min": per_sentence.min(), "clips_per_sentence_max": per_sentence.max(),
        "categories": 3,
    }
    shown = {key: text for (kind, key), text in marked(built[1]).items() if kind == "metric"}
    assert shown == {key: report_html.fmt(float(value)) for key, value in expected.items()}


@needs_clips
def test_rejected_and_failed_clips_are_listed_with_their_reasons(built):
    page = built[1]
    for video, reason in (("sample_video.mp4", "Too few frames"), ("nothere.mp4", "File not found"),
                          ("broken.mp4", "OpenCV could not open the file as a video")):
        assert re.search(rf"<td>{re.escape(video)}</td>.*?{re.escape(reason)}", page), video


@needs_clips
def test_previews_come_from_saved_arrays_and_rejected_clips_from_their_stored_landmarks(built):
    page = built[1]
    for video in ("FOOTBALL.mp4", "SOUP.mp4", "test_video.mp4"):
        assert re.search(rf'data-preview="{re.escape(video)}".*?{re.escape(SAVED)}', page)
    assert re.search(rf'data-preview="sample_video.mp4".*?{re.escape(STORED)} · 9 frames', page)


@needs_clips
def test_cli_rebuilds_from_outputs_alone_with_no_video(run_output, tmp_path, capsys):
    out = shutil.copytree(run_output[0], tmp_path / "out")
    assert report_entry.main([f"--output_dir={out}"]) == 0
    assert f"Report: {proc_path(str(out), 'report.html')}" in capsys.readouterr().out
    page = (out / "proc" / "report.html").read_text(encoding="utf-8")
    assert re.search(rf'data-preview="sample_video.mp4".*?{re.escape(STORED)} · 9 frames', page)


@needs_clips
def test_a_rejected_clip_without_landmarks_is_reextracted_or_says_how_to_get_it(run_output, tmp_path):
    out = shutil.copytree(run_output[0], tmp_path / "out")
    (out / "landmarks" / "sample_video.pose").unlink()  # outputs written before the landmark store
    page = open(build_report(out), encoding="utf-8").read()
    assert f'data-unavailable="sample_video.mp4">Preview unavailable: {html.escape(NOT_SAVED)}' in page
    page = open(build_report(out, f"--video_dir={run_output[1]}"), encoding="utf-8").read()
    assert re.search(rf'data-preview="sample_video.mp4".*?{re.escape(REEXTRACTED)} · 9 frames', page)


@needs_clips
def test_preview_overlay_draws_on_the_video_frames(run_output, tmp_path):
    out = shutil.copytree(run_output[0], tmp_path / "out")
    path = build_report(out, f"--video_dir={run_output[1]}", "--preview_overlay", "--preview_samples=0",
                        "--max_previews=1")
    page = open(path, encoding="utf-8").read()
    gif = re.search(r'data-preview="sample_video.mp4"[^>]*src="data:image/gif;base64,([^"]+)"', page)
    image = Image.open(io.BytesIO(base64.b64decode(gif.group(1))))
    assert image.size == (220, 124)  # sample_video is 1280×720, scaled to the overlay width
    assert getattr(image, "n_frames", 1) == 9
    assert OVERLAY in page


@needs_clips
def test_a_kept_low_clip_is_counted_once_and_previewed_from_its_array(tmp_path):
    out, _ = run_pipeline(tmp_path, ["sample_video.mp4,3,Hello,greetings"], "--keep_low_quality",
                          "--direct_num_workers=1", "--direct_running_mode=in_memory")
    page = open(build_report(out), encoding="utf-8").read()
    shown = marked(page)
    assert shown[("summary", "counts.success")] == "1"
    assert shown[("summary", "counts.kept_low")] == "1"
    assert shown[("summary", "counts.low_quality")] == "0"
    assert shown[("metric", "unique_sentences")] == "1"
    assert re.search(rf'data-preview="sample_video.mp4".*?{re.escape(SAVED)}', page)
    assert "Rejected clips (1)" in page and "The CSVs and run_summary.json disagree" not in page


@needs_clips
def test_report_is_built_from_outputs_on_gcs(run_output, gcs_emulator):
    local = run_output[0]
    remote = f"{gcs_emulator}/report-test/out"
    for folder, _, files in os.walk(local):
        for name in files:
            if name != "report.html":
                path = os.path.join(folder, name)
                storage.write_bytes(f"{remote}/{os.path.relpath(path, local)}", open(path, "rb").read())
    path = build_report(remote, f"--video_dir={run_output[1]}")
    assert path == f"{remote}/proc/report.html"
    page = storage.read_bytes(path).decode("utf-8")
    assert sorted(re.findall(r'data-preview="([^"]+)"', page)) == [
        "FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4"]
    assert len(re.findall(r"data-plot=", page)) == len(PLOTS)


def test_report_without_run_summary_says_the_run_did_not_finish(tmp_path, capsys):
    assert report_entry.main([f"--output_dir={tmp_path}"]) == 2
    assert "run_summary.json does not exist" in capsys.readouterr().err


@needs_clips
def test_a_part_that_was_not_detected_is_not_drawn(run_output):
    frames = np.load(os.path.join(run_output[0], "features", "pose_data", "FOOTBALL.npy"))
    # Normalization turns an undetected part's zeros into one repeated point (features v1).
    frames[:5, 132:195] = np.tile(frames[0, 132:135], 21)
    parts = skeleton_preview.skeleton(frames)
    assert not parts.left_drawn[:5].any() and parts.left_drawn[5:].all()
    assert parts.right_drawn.all() and parts.face_drawn.all()


def test_connections_are_mediapipes():
    mp = pytest.importorskip("mediapipe")
    assert set(skeleton_preview.POSE_CONNECTIONS) == {tuple(sorted(c)) for c in mp.solutions.pose.POSE_CONNECTIONS}
    assert set(skeleton_preview.HAND_CONNECTIONS) == {tuple(sorted(c)) for c in mp.solutions.hands.HAND_CONNECTIONS}


def test_dataset_numbers_without_saved_clips_are_empty_not_errors():
    from transforms.reports.report_data import dataset_stats

    numbers = dataset_numbers(dataset_stats([]))
    assert numbers["frames_mean"] is None and numbers["unique_sentences"] == 0


def test_the_readme_screenshot_is_a_small_png():
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "report.png")
    with open(path, "rb") as handle:
        data = handle.read()
    assert data.startswith(b"\x89PNG") and len(data) < 300_000
