"""gs:// end to end against a real GCS emulator: the same outputs as a local run, object for object."""
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import write_metadata
from transforms.common import storage

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
REPORTS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv",
           "orphaned_outputs.csv", "duplicates.csv", "sentence_duplicates.csv")


def csv_rows(uri):
    import csv
    return list(csv.DictReader(io.StringIO(storage.read_bytes(uri).decode("utf-8"))))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("gcsdata")
    videos = root / "videos"
    (videos / "signer2").mkdir(parents=True)
    for name in CLIPS:
        shutil.copy(sign_clips / name, videos / name)
    shutil.copy(sign_clips / "FOOTBALL.mp4", videos / "signer2" / "FOOTBALL.mp4")
    (videos / "broken.mp4").write_bytes(b"garbage" * 100)
    rows = [dict(video_file=n, sentence_id=str(i), sentence=f"S{i}", category="c") for i, n in enumerate(CLIPS)]
    rows += [dict(video_file="signer2/FOOTBALL.mp4", sentence_id="10", sentence="Football", category="sport"),
             dict(video_file="broken.mp4", sentence_id="11", sentence="Broken", category="misc"),
             dict(video_file="absent.mp4", sentence_id="12", sentence="Absent", category="misc")]
    metadata = write_metadata(root / "metadata.csv", rows)
    return metadata, videos


def upload(local: Path, uri: str):
    storage.write_bytes(uri, local.read_bytes())


@pytest.fixture(scope="module")
def runs(dataset, gcs_emulator, tmp_path_factory):
    """The same job twice: local → local, and gs:// → gs:// (videos, metadata and outputs in the bucket)."""
    metadata, videos = dataset
    bucket = f"{gcs_emulator}/sample_dataset"
    upload(metadata, f"{bucket}/sampled_metadata.csv")
    for path in videos.rglob("*.mp4"):
        upload(path, f"{bucket}/videos/{path.relative_to(videos).as_posix()}")
    options = ["--model_complexity=1", "--min_frames=20", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]
    local_out = tmp_path_factory.mktemp("local_out")
    local = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={local_out}", *options])
    remote_out = f"{gcs_emulator}/outputs"
    remote = run_job.run([f"--metadata_csv={bucket}/sampled_metadata.csv", f"--video_dir={bucket}/videos",
                          f"--output_dir={remote_out}", *options])
    return (str(local_out), local), (remote_out, remote)


def relative_listing(out: str):
    return sorted(p[len(out):].lstrip("/") for p in storage.list_files(out))


def release_files(out: str):
    """The release the run ended with, as its manifest lists it (its own test: tests/test_release.py)."""
    release_id = json.loads(storage.read_bytes(f"{out}/releases/latest.json"))["release_id"]
    listed = json.loads(storage.read_bytes(f"{out}/releases/{release_id}/manifest.json"))["files"]
    return [f"releases/{release_id}/{name}" for name in [*listed, "manifest.json"]] + ["releases/latest.json"]


def test_every_output_object_is_written(runs):
    (local_out, _), (remote_out, _) = runs
    expected = sorted(
        [f"landmarks/{s}.pose" for s in ("SOUP", "sample_video", "test_video", "signer2/FOOTBALL")]
        + [f"features/pose_data/{s}.npy" for s in ("SOUP", "test_video", "signer2/FOOTBALL")]
        + [f"features/records/{s}.json" for s in ("SOUP", "sample_video", "test_video", "signer2/FOOTBALL", "broken")]
        + ["features/index/records.jsonl.gz"]
        + [f"proc/{name}" for name in REPORTS + ("global_stats.npz", "run_summary.json", "report.html", "report_previews.json",
                                                 "feature_schema.json", "run_log.txt", "duplicate_links.json")])
    assert relative_listing(remote_out) == sorted(expected + release_files(remote_out))
    assert relative_listing(local_out) == sorted(expected + release_files(local_out))
    assert release_files(remote_out) == release_files(local_out)


def test_bucket_outputs_equal_local_outputs(runs):
    (local_out, local), (remote_out, remote) = runs
    for stem in ("SOUP", "test_video", "signer2/FOOTBALL"):
        assert storage.read_bytes(f"{remote_out}/features/pose_data/{stem}.npy") == \
            storage.read_bytes(f"{local_out}/features/pose_data/{stem}.npy")
    for name in REPORTS:
        remote_rows, local_rows = csv_rows(f"{remote_out}/proc/{name}"), csv_rows(f"{local_out}/proc/{name}")
        for r in remote_rows + local_rows:
            r.pop("feature_path", None)
        assert remote_rows == local_rows, name
    with np.load(io.BytesIO(storage.read_bytes(f"{remote_out}/proc/global_stats.npz"))) as a, \
            np.load(f"{local_out}/proc/global_stats.npz") as b:
        for key in b.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, err_msg=key)
    assert remote["counts"] == local["counts"] == {"success": 3, "kept_low": 0, "low_quality": 1,
                                                   "failed": 1, "missing": 1}


def test_bucket_landmark_files_equal_local_ones(runs):
    (local_out, _), (remote_out, _) = runs
    for stem in ("SOUP", "sample_video", "test_video", "signer2/FOOTBALL"):
        assert storage.read_bytes(f"{remote_out}/landmarks/{stem}.pose") == \
            storage.read_bytes(f"{local_out}/landmarks/{stem}.pose")


def test_feature_paths_are_full_uris(runs):
    _, (remote_out, _) = runs
    for r in csv_rows(f"{remote_out}/proc/processed_metadata.csv"):
        assert r["feature_path"].startswith(f"{remote_out}/features/pose_data/")
        assert storage.exists(r["feature_path"])


def test_bucket_records_carry_size_and_crc32c(runs, sign_clips):
    _, (remote_out, _) = runs
    record = json.loads(storage.read_bytes(f"{remote_out}/features/records/SOUP.json"))
    assert record["source"]["size"] == os.path.getsize(sign_clips / "SOUP.mp4")
    assert record["source"]["checksum"]  # the object's CRC32C, base64


def test_rerun_from_the_bucket_reuses_everything(runs, gcs_emulator):
    _, (remote_out, _) = runs
    bucket = f"{gcs_emulator}/sample_dataset"
    again = run_job.run([f"--metadata_csv={bucket}/sampled_metadata.csv", f"--video_dir={bucket}/videos",
                         f"--output_dir={remote_out}", "--model_complexity=1", "--min_frames=20",
                         "--direct_num_workers=1"])
    assert (again["videos_decoded"], again["videos_reused"]) == (0, 5)


def test_an_option_change_recomputes_from_the_bucket_landmarks(runs, gcs_emulator):
    _, (remote_out, _) = runs
    bucket = f"{gcs_emulator}/sample_dataset"
    again = run_job.run([f"--metadata_csv={bucket}/sampled_metadata.csv", f"--video_dir={bucket}/videos",
                         f"--output_dir={remote_out}", "--model_complexity=1", "--min_frames=20", "--ema_alpha=0.25",
                         "--direct_num_workers=1"])
    assert (again["videos_decoded"], again["videos_recomputed"]) == (0, 4)
    assert again["counts"]["success"] == 3


def test_streamed_copy_is_deleted_even_when_decoding_fails(gcs_emulator, tmp_path, monkeypatch):
    # A temp folder of the test's own: other runs on this machine stream videos to the shared one.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    uri = f"{gcs_emulator}/tmpcheck/clip.mp4"
    storage.write_bytes(uri, b"x" * (3 * 1024 * 1024))
    seen = []
    with pytest.raises(RuntimeError):
        with storage.local_copy(uri) as local:
            seen.append(local)
            assert os.path.getsize(local) == 3 * 1024 * 1024
            raise RuntimeError("decoder blew up")
    assert seen and not os.path.exists(seen[0])
    assert os.path.dirname(seen[0]) == str(tmp_path)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("ghsl-video-")]


def test_a_video_prefix_with_no_objects_stops_before_any_work(gcs_emulator, dataset, capsys):
    metadata, _ = dataset
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={gcs_emulator}/no_such_prefix",
                         f"--output_dir={gcs_emulator}/never_written", "--model_complexity=1"]) == 2
    assert "--video_dir" in capsys.readouterr().err
    assert storage.list_files(f"{gcs_emulator}/never_written") == []
