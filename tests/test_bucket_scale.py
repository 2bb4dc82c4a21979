"""The weekly re-run at bucket scale: requests per video and per run, counted on the real GCS emulator.

One module-wide sequence of runs over videos, metadata and outputs on gs://: a
full run, a re-run with nothing changed, a re-run with --min_frames changed, and
a Dataflow dry run with nothing to do. Every request goes through the counting
proxy of tests/conftest.py; each is attributed to the object it names. The
bounds are those of the bucket-scale issue: nothing per video on a no-op
re-run (only listings and a few whole-run objects, so 0.1 requests per row from
a couple of hundred rows on), at most 6 per video on a full run, each .pose
read once and no video read when a feature option changes.
"""
from __future__ import annotations

import collections
from unittest import mock

import pytest
from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

from pipeline import run as run_job
from tests.conftest import write_metadata
from transforms.common import storage

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
VIDEOS = 12
PREFIX = "scale"
OPTIONS = ["--model_complexity=1", "--min_frames=20"]
# Whole-run requests (metadata, listings, lease, index, reports, previews, duplicate links, summary, run log,
# release), whatever the number of videos: 20 measured on a no-op re-run (the launcher reads the metadata and
# lists the videos to check them, and the job reads and lists them again itself; the duplicate audit reads
# the links it kept, proc/duplicate_links.json, instead of searching again).
WHOLE_RUN = 20
# A release built from scratch adds its own whole-run objects: its Parquet shards (written in
# place) and its small files (stats, schema, splits, card, croissant.json, manifest, latest.json).
RELEASE = 33


def per_video_objects(name: str):
    """(kind, video) when a request names one video's object, else None."""
    for kind, folder, suffix in (("video", f"{PREFIX}/videos/", ".mp4"), ("landmarks", f"{PREFIX}/out/landmarks/", ".pose"),
                                 ("features", f"{PREFIX}/out/features/pose_data/", ".npy"),
                                 ("record", f"{PREFIX}/out/features/records/", ".json")):
        if name.startswith(folder) and name.endswith(suffix):
            return kind, name[len(folder): -len(suffix)]
    return None


@pytest.fixture(scope="module")
def runs(gcs_emulator, gcs_proxy, sign_clips, tmp_path_factory):
    """{run name: (summary, [(request kind, method, object name)])}."""
    root = tmp_path_factory.mktemp("scale")
    bucket = f"{gcs_emulator}/{PREFIX}"
    rows = []
    for i in range(VIDEOS):
        clip = CLIPS[i % len(CLIPS)]
        name = f"v{i:02d}_{clip}"
        storage.write_bytes(f"{bucket}/videos/{name}", (sign_clips / clip).read_bytes())
        rows.append(dict(video_file=name, sentence_id=str(i), sentence=f"Sentence {i}", category="c"))
    rows.append(dict(video_file="never_uploaded.mp4", sentence_id="99", sentence="Gone", category="c"))
    storage.write_bytes(f"{bucket}/metadata.csv", write_metadata(root / "m.csv", rows).read_bytes())
    args = [f"--metadata_csv={bucket}/metadata.csv", f"--video_dir={bucket}/videos", f"--output_dir={bucket}/out",
            *OPTIONS]
    found = {}
    for name, extra in (("full", ()), ("no-op", ()), ("option change", ("--min_frames=21",))):
        gcs_proxy.take()
        summary = run_job.run([*args, *extra])
        found[name] = (summary, list(gcs_proxy.requests))
    gcs_proxy.take()
    found["args"] = [*args, "--min_frames=21"]
    return found


def by_video(requests):
    """video → Counter of (kind of object, request kind), and the whole-run requests."""
    per_video, whole_run = collections.defaultdict(collections.Counter), []
    for kind, method, name in requests:
        owner = per_video_objects(name)
        if owner is None:
            whole_run.append((kind, method, name))
        else:
            per_video[owner[1]][(owner[0], kind)] += 1
    return per_video, whole_run


def test_a_full_run_makes_at_most_six_requests_per_video(runs):
    summary, requests = runs["full"]
    assert summary["videos_decoded"] == VIDEOS
    per_video, whole_run = by_video(requests)
    assert len(per_video) == VIDEOS
    previewed = 0
    for video, counts in per_video.items():
        saved = "sample_video" not in video  # 9 frames: too few
        # The video downloaded once; its .pose, .npy (a saved clip) and record uploaded once each;
        # the release reads a saved clip's .npy once, to write it into its Parquet shard.
        assert counts[("video", "download")] == 1, video
        assert counts[("landmarks", "upload")] == 1 and counts[("record", "upload")] == 1, video
        assert counts[("features", "upload")] == int(saved), video
        # The report draws a few clips, reading their .npy (saved) or .pose (rejected) once.
        drawn = counts[("features", "download")] - int(saved) + counts[("landmarks", "download")]
        previewed += drawn
        assert drawn in (0, 1) and sum(counts.values()) <= 6, (video, counts)
    assert 0 < previewed <= 4 + 12  # --preview_samples, --max_previews
    assert len(whole_run) <= WHOLE_RUN + RELEASE, whole_run


def test_a_no_op_rerun_asks_nothing_about_any_video(runs):
    summary, requests = runs["no-op"]
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["videos_reused"]) == (0, 0, VIDEOS)
    per_video, whole_run = by_video(requests)
    assert dict(per_video) == {}
    assert len(whole_run) <= WHOLE_RUN, whole_run
    # One listing per prefix: the videos (the launcher's check, then the job's own), landmarks/, features/,
    # proc/, and the release's folder (its files checked against its manifest: transforms/release/verify.py).
    # One read of the record index: the release step takes each saved clip's record from its result.
    assert sum(1 for kind, _, _ in whole_run if kind == "list") == 6
    assert [n for k, _, n in whole_run if k == "download" and n.endswith("metadata.csv")] == [
        f"{PREFIX}/metadata.csv"] * 2
    assert [n for _, _, n in whole_run if n.endswith("records.jsonl.gz")] == [f"{PREFIX}/out/features/index/records.jsonl.gz"]
    # The lease: created (one conditional upload) and deleted (one conditional delete), never read.
    assert [(k, n.rsplit("/", 1)[-1]) for k, _, n in whole_run if n.endswith(".lease.json")] == [
        ("upload", ".lease.json"), ("delete", ".lease.json")]
    # The launcher reads the run summary (which holds the release's outcome) once, after the job.
    assert [n for k, _, n in whole_run if k == "download" and n.endswith("run_summary.json")] == [
        f"{PREFIX}/out/proc/run_summary.json"]
    # From the records the index holds, the same release the full run built from the records it wrote.
    assert summary["release"]["status"] == "unchanged"
    assert summary["release"]["release_id"] == runs["full"][0]["release"]["release_id"]
    written = {name.rsplit("/", 1)[-1] for kind, _, name in whole_run if kind == "upload"}
    # The reports, statistics and index are unchanged, so not written again; the lease, the
    # summary, the HTML report (which states this run's figures) and the run's log are.
    assert written == {".lease.json", "run_summary.json", "report.html", "run_log.txt"}


def test_an_option_change_reads_each_landmark_file_once_and_no_video(runs):
    summary, requests = runs["option change"]
    assert (summary["videos_decoded"], summary["videos_recomputed"]) == (0, VIDEOS)
    per_video, whole_run = by_video(requests)
    redrawn = 0
    for video, counts in per_video.items():
        assert counts[("video", "download")] == 0, video
        # Read once for its features; a rejected clip the report previews is drawn from the
        # frames the new options keep, so its preview is drawn again, from the same file.
        assert 1 <= counts[("landmarks", "download")] <= 2, video
        redrawn += counts[("landmarks", "download")] - 1
        # The record names the new options; the features themselves did not change, so
        # their bytes are already in the bucket and are not uploaded again. The options are
        # the new release's inputs, so it reads each saved clip's .npy once to write it.
        assert counts[("record", "upload")] == 1 and counts[("features", "upload")] == 0, (video, counts)
        assert counts[("features", "download")] == int("sample_video" not in video), video
    assert redrawn <= 12  # --max_previews
    assert len(whole_run) <= WHOLE_RUN + 2 + RELEASE, whole_run  # the record index is rewritten


def test_a_scheduled_run_with_nothing_to_do_asks_nothing_about_any_video_at_launch(runs, gcs_proxy):
    """The launcher only checks the metadata and the listing; what each video needs is the job's to find out
    (test_a_no_op_rerun_asks_nothing_about_any_video), so the job is the same whatever there is to do."""
    jobs = []
    submit = DataflowRunner.run_pipeline

    def keep(self, pipeline, options, *args, **kwargs):
        jobs.append(submit(self, pipeline, options, *args, **kwargs).job)
        return jobs[-1]

    gcs_proxy.take()
    with mock.patch.object(DataflowRunner, "run_pipeline", keep):
        code = run_job.main(["--runner=DataflowRunner", "--dry_run=True", "--project=ghsl-test-123456",
                             "--region=us-central1", "--temp_location=gs://ghsl-test/tmp", *runs["args"]])
    assert code == 0 and len(jobs) == 1
    per_video, _ = by_video(gcs_proxy.requests)
    assert dict(per_video) == {}
    labels = {t.unique_name.split("/")[0] for t in jobs[0].proto_pipeline.components.transforms.values()}
    assert {"Read the metadata", "List the videos", "Per clip", "The video step", "Write reports and index",
            "Write report page", "Build the release", "Write run summary"} <= labels, sorted(labels)

