"""Published outputs survive a wrong --video_dir, missing videos and transient failures.

Deleting features is only ever asked for (--prune_orphans); a run that cannot
see its videos stops before any write, and a truncated upload never passes.
"""
import json
import shutil

import pytest

from pipeline import run as run_job
from tests.conftest import make_dataset, read_csv, write_metadata
from transforms.common import storage
from transforms.store.metadata import parse
from transforms.store.orphans import kept_outputs
from transforms.store.paths import feature_path, landmark_path, record_path
from transforms.store.publish import publish
from transforms.store.results import FAILED, ClipResult, Outputs

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# The release has its own tests (tests/test_release.py); here it would only be rebuilt after every run.
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


def args(metadata, videos, out, *extra):
    return [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS, *extra]


def outputs(out):
    """Every published per-video output: landmarks, features, records (not the reports, the record index or
    the releases)."""
    return sorted(p[len(str(out)):].lstrip("/") for p in storage.list_files(str(out))
                  if not any(f"/{folder}/" in p for folder in ("proc", "features/index", "releases")))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, sign_clips):
    """A finished local run over three real clips: (metadata, videos, out)."""
    root = tmp_path_factory.mktemp("keep")
    metadata, videos = make_dataset(root, [(name, sign_clips / name) for name in CLIPS])
    out = root / "out"
    assert run_job.main(args(metadata, videos, out)) == 0
    return metadata, videos, out


@pytest.fixture
def copy_of(tmp_path):
    def copy(out):
        target = tmp_path / "out"
        shutil.copytree(out, target)
        return target
    return copy


def test_an_empty_video_dir_stops_before_any_write_and_deletes_nothing(finished, copy_of, tmp_path, capsys):
    metadata, _, out = finished
    out = copy_of(out)
    before = {p: (out / p).read_bytes() for p in outputs(out)}
    empty = tmp_path / "empty_videos"
    empty.mkdir()
    assert run_job.main(args(metadata, empty, out)) == 2
    err = capsys.readouterr().err
    assert "3 of the 3 videos" in err and "--max_missing_fraction=1" in err
    assert {p: (out / p).read_bytes() for p in outputs(out)} == before
    assert (out / "proc" / "run_summary.json").exists()  # the finished run's summary still stands


def test_missing_videos_keep_their_outputs_listed_as_orphans_until_pruned(finished, copy_of, tmp_path):
    metadata, _, out = finished
    out = copy_of(out)
    before = outputs(out)
    empty = tmp_path / "empty_videos"
    empty.mkdir()
    summary = run_job.run(args(metadata, empty, out, "--max_missing_fraction=1"))
    assert summary["counts"]["missing"] == 3
    assert outputs(out) == before
    orphans = read_csv(out / "proc" / "orphaned_outputs.csv")
    assert {o["path"][len(str(out)):].lstrip("/") for o in orphans} == set(before)
    assert all(o["reason"].startswith("video missing (File not found)") and o["deleted"] == "False" for o in orphans)

    pruned = run_job.run(args(metadata, empty, out, "--max_missing_fraction=1", "--prune_orphans"))
    assert pruned["orphans_deleted"] == len(before) and outputs(out) == []


def test_missing_videos_come_back_and_are_reused_not_decoded(finished, copy_of, tmp_path):
    metadata, videos, out = finished
    out = copy_of(out)
    empty = tmp_path / "empty_videos"
    empty.mkdir()
    run_job.run(args(metadata, empty, out, "--max_missing_fraction=1"))
    back = run_job.run(args(metadata, videos, out))
    assert (back["videos_decoded"], back["videos_reused"]) == (0, 3)
    assert read_csv(out / "proc" / "orphaned_outputs.csv") == []


def test_a_transient_failure_keeps_the_published_outputs(finished, copy_of):
    _, _, out = finished
    out = str(copy_of(out))
    [row] = parse("video_file,sentence_id,sentence,category\nSOUP.mp4,1,S,c\n")[1]
    published = (landmark_path(out, "SOUP"), feature_path(out, "SOUP"), record_path(out, "SOUP"))
    result = ClipResult(row, FAILED, "Could not read or decode the video: ConnectionError: reset", retryable=True,
                        outputs=Outputs(*(storage.object_info(path) for path in published)))
    before = [storage.read_bytes(path) for path in published]
    landmarks = {"fingerprint": "lm", "sha256": "ab" * 32, "size": 1, "frames": 1}
    assert publish(result, None, {"size": 1, "updated": 0.0, "checksum": None}, landmarks, out, {}) == result
    assert [storage.read_bytes(path) for path in published] == before
    listed = kept_outputs(out, result)
    assert sorted(o["path"] for o in listed) == sorted(published)
    assert {o["kind"] for o in listed} == {"landmarks", "features", "record"}
    assert all(o["video"] == "SOUP" and "the next run tries again" in o["reason"] for o in listed)


def test_a_mostly_missing_gcs_video_dir_stops_on_the_launcher(finished, gcs_emulator, capsys):
    metadata, videos, _ = finished
    storage.write_bytes(f"{gcs_emulator}/few/videos/SOUP.mp4", (videos / "SOUP.mp4").read_bytes())
    code = run_job.main(["--runner=DataflowRunner", "--dry_run=True", "--project=ghsl-test-123456",
                         "--region=us-central1", "--temp_location=gs://ghsl-test/tmp",
                         f"--metadata_csv={metadata}", f"--video_dir={gcs_emulator}/few/videos",
                         f"--output_dir={gcs_emulator}/few/out", "--model_complexity=1"])
    assert code == 2
    assert "2 of the 3 videos" in capsys.readouterr().err
    assert storage.list_files(f"{gcs_emulator}/few/out") == []


def test_a_dot_slash_video_file_is_found_in_a_bucket(finished, gcs_emulator, tmp_path):
    _, videos, _ = finished
    storage.write_bytes(f"{gcs_emulator}/dotslash/videos/SOUP.mp4", (videos / "SOUP.mp4").read_bytes())
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="./SOUP.mp4", sentence_id="1", sentence="S",
                                                        category="c")])
    summary = run_job.run(args(metadata, f"{gcs_emulator}/dotslash/videos", f"{gcs_emulator}/dotslash/out"))
    assert summary["counts"]["success"] == 1
    [processed] = read_csv_uri(f"{gcs_emulator}/dotslash/out/proc/processed_metadata.csv")
    assert processed["video_file"] == "SOUP.mp4"
    assert storage.exists(f"{gcs_emulator}/dotslash/out/features/pose_data/SOUP.npy")


def read_csv_uri(uri):
    import csv
    import io
    return list(csv.DictReader(io.StringIO(storage.read_bytes(uri).decode("utf-8"))))


def test_a_truncated_upload_fails_with_a_reason(sign_clips, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    data = (sign_clips / "test_video.mp4").read_bytes()  # its index is at the front: a cut still opens
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    shutil.copy(sign_clips / "SOUP.mp4", videos / "SOUP.mp4")
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="cut.mp4", sentence_id="1", sentence="S",
                                                        category="c"),
                                                   dict(video_file="SOUP.mp4", sentence_id="2", sentence="S",
                                                        category="c")])
    out = tmp_path / "out"
    run_job.run(args(metadata, videos, out))
    [failed] = read_csv(out / "proc" / "failed_videos.csv")
    assert failed["video_file"] == "cut.mp4"
    assert failed["error"].startswith("Truncated video: decoded ") and "of the 58 frames" in failed["error"]


def test_no_summary_vouches_for_proc_while_a_rerun_rewrites_it(finished, copy_of, tmp_path):
    metadata, videos, out = finished
    out = copy_of(out)
    # The re-run dies just after rewriting SOUP's features: a folder stands where its record goes.
    blocked = out / "features" / "records" / "SOUP.json"
    blocked.unlink()
    blocked.mkdir()
    assert run_job.main(args(metadata, videos, out, "--reprocess=all")) == 1
    assert not (out / "proc" / "run_summary.json").exists()
    blocked.rmdir()
    run_job.run(args(metadata, videos, out))
    assert json.loads((out / "proc" / "run_summary.json").read_text())["rows"] == 3
