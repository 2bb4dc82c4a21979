"""What is stored is verified before it is trusted: a damaged or rewritten .npy or .pose is healed and named.

One finished run is made once per module; each test works on its own copy of it (shutil.copytree keeps
every file's modification time to the nanosecond, so a copy is, to the store, the same files) and then
damages it the way a user or a broken disk would. The landmarks are replayed (tests/landmark_replay.py):
"decoded again" means the extraction step ran, which the summary counts.
"""
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import write_metadata
from transforms.store import records

CLIPS = ("SOUP.mp4", "sample_video.mp4")
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, sign_clips):
    """(metadata, videos, a finished run's output folder) — never changed by a test."""
    root = tmp_path_factory.mktemp("stored")
    videos = root / "videos"
    videos.mkdir()
    for name in CLIPS:
        shutil.copy(sign_clips / name, videos / name)
    metadata = write_metadata(root / "m.csv", [dict(video_file=name, sentence_id=str(i), sentence=f"Sentence {i}",
                                                    category="c") for i, name in enumerate(CLIPS)])
    out = root / "out"
    summary = run(metadata, videos, out)
    assert summary["counts"]["success"] == len(CLIPS)
    return metadata, videos, out


@pytest.fixture
def store(finished, tmp_path):
    """A copy of the finished run to damage: (metadata, videos, out)."""
    return copy_of(finished, tmp_path)


def copy_of(found, folder: Path):
    """(metadata, videos, a copy of out under folder): every file's bytes and modification time kept."""
    metadata, videos, out = found
    copy = folder / "out"
    shutil.copytree(out, copy)
    return metadata, videos, copy


def run(metadata, videos, out, *extra, options=OPTIONS):
    return run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *options,
                        *extra])


def npy(out: Path, clip: str = "SOUP") -> Path:
    return out / "features" / "pose_data" / f"{clip}.npy"


def pose(out: Path, clip: str = "SOUP") -> Path:
    return out / "landmarks" / f"{clip}.pose"


def record(out: Path, clip: str = "SOUP") -> dict:
    return json.loads((out / "features" / "records" / f"{clip}.json").read_text())


def run_log(out: Path) -> str:
    return (out / "proc" / "run_log.txt").read_text()


def stats(out: Path) -> dict:
    with np.load(out / "proc" / "global_stats.npz") as found:
        return {key: found[key].copy() for key in found.files}


def assert_same_stats(out: Path, reference: Path):
    mine, theirs = stats(out), stats(reference)
    assert sorted(mine) == sorted(theirs)
    for key in mine:
        assert mine[key].tobytes() == theirs[key].tobytes(), key


def test_a_copy_of_the_store_is_trusted_without_reading_an_array(store):
    metadata, videos, out = store
    summary = run(metadata, videos, out)
    assert (summary["videos_reused"], summary["videos_decoded"], summary["files_healed"]) == (len(CLIPS), 0, 0)
    assert summary["counters"].get("records_read", 0) == 0


def test_an_npy_of_random_bytes_is_healed_and_named(store, finished):
    metadata, videos, out = store
    good = npy(out).read_bytes()
    npy(out).write_bytes(os.urandom(len(good)))
    summary = run(metadata, videos, out)
    assert summary["files_healed"] == 1 and summary["videos_decoded"] == 0
    assert npy(out).read_bytes() == good
    assert f"{npy(out)} is not the array its record vouches for" in run_log(out)
    assert_same_stats(out, finished[2])
    again = run(metadata, videos, out)
    assert (again["files_healed"], again["videos_reused"]) == (0, len(CLIPS))


def test_a_valid_array_of_the_same_shape_is_not_released_as_data(store, finished):
    """The worst damage: a well-formed .npy, the right shape, other numbers (here all 7.0)."""
    metadata, videos, out = store
    good = np.load(npy(out))
    np.save(npy(out), np.full_like(good, 7.0))
    summary = run(metadata, videos, out)
    assert summary["files_healed"] == 1
    assert np.array_equal(np.load(npy(out)), good)
    assert_same_stats(out, finished[2])  # the statistics never saw the sevens


def test_a_missing_npy_is_recomputed_from_the_landmarks(store):
    metadata, videos, out = store
    good = npy(out).read_bytes()
    npy(out).unlink()
    summary = run(metadata, videos, out)
    assert (summary["files_healed"], summary["videos_decoded"], summary["videos_recomputed"]) == (1, 0, 1)
    assert npy(out).read_bytes() == good
    assert "is missing: recomputed from the stored landmarks" in run_log(out)


@pytest.mark.parametrize("damage", ["AAAA", None, 7])
def test_a_record_whose_signature_is_damaged_is_healed_not_a_crash_of_the_audit(store, damage):
    metadata, videos, out = store
    good = record(out)["signature"]
    path = out / "features" / "records" / "SOUP.json"
    damaged = record(out)
    damaged["signature"] = {**good, "data": damage} if damage is not None else {**good, "data": good["data"][:-2]}
    path.write_text(json.dumps(damaged))
    summary = run(metadata, videos, out)
    assert (summary["files_healed"], summary["videos_decoded"], summary["videos_recomputed"]) == (1, 0, 1)
    assert record(out)["signature"] == good
    assert "SOUP.json holds a damaged duplicate signature: recomputed from the stored landmarks" in run_log(out)


def test_a_damaged_pose_is_made_again_from_the_video(store):
    metadata, videos, out = store
    good = pose(out).read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte, the size unchanged
    pose(out).write_bytes(bytes(damaged))
    summary = run(metadata, videos, out)
    assert (summary["files_healed"], summary["videos_decoded"]) == (1, 1)
    assert pose(out).read_bytes() == good
    assert f"{pose(out)} is not the landmark file its record vouches for" in run_log(out)


def test_files_rewritten_with_the_same_bytes_are_hashed_once_then_trusted(store):
    metadata, videos, out = store
    for path in (npy(out), pose(out)):
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)  # a new file: another modification time
    summary = run(metadata, videos, out)
    assert (summary["files_healed"], summary["videos_decoded"], summary["videos_reused"]) == (0, 0, len(CLIPS))
    kept = record(out)
    assert kept["features"]["stored"]["version"] == str(os.stat(npy(out)).st_mtime_ns)
    assert kept["landmarks"]["stored"]["version"] == str(os.stat(pose(out)).st_mtime_ns)
    versions = {p: os.stat(p).st_mtime_ns for p in (out / "features" / "records").glob("*.json")}
    run(metadata, videos, out)
    assert {p: os.stat(p).st_mtime_ns for p in versions} == versions  # nothing left to refresh


def downgraded(out: Path, clip: str) -> None:
    """The record as the previous version wrote it (format 2: no file identities, no signature)."""
    path = out / "features" / "records" / f"{clip}.json"
    old = json.loads(path.read_text())
    old["format"] = records.UPGRADABLE
    for key in ("features", "signature"):
        old.pop(key)
    old["landmarks"].pop("stored")
    path.write_text(json.dumps(old, indent=1) + "\n")


def test_records_of_the_previous_format_are_upgraded_without_decoding(store):
    metadata, videos, out = store
    current = {clip: record(out, clip.rsplit(".", 1)[0]) for clip in CLIPS}
    for clip in CLIPS:
        downgraded(out, clip.rsplit(".", 1)[0])
    (out / "features" / "index" / "records.jsonl.gz").unlink()  # as if the old index named the old records
    npys = {clip: npy(out, clip.rsplit(".", 1)[0]).read_bytes() for clip in CLIPS}
    summary = run(metadata, videos, out)
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["files_healed"]) == (0, len(CLIPS), 0)
    for clip in CLIPS:
        stem = clip.rsplit(".", 1)[0]
        upgraded = record(out, stem)
        assert upgraded["format"] == records.FORMAT
        assert upgraded["features"]["sha256"] == hashlib.sha256(npys[clip]).hexdigest()
        assert upgraded["signature"] == current[clip]["signature"]
        assert npy(out, stem).read_bytes() == npys[clip]  # compared, not rewritten


def test_an_upgrade_heals_an_npy_that_its_landmarks_do_not_give(store):
    metadata, videos, out = store
    good = np.load(npy(out))
    downgraded(out, "SOUP")
    np.save(npy(out), good * 2)
    summary = run(metadata, videos, out)
    assert (summary["files_healed"], summary["videos_decoded"]) == (1, 0)
    assert np.array_equal(np.load(npy(out)), good)
    assert f"{npy(out)} is not the array its stored landmarks give" in run_log(out)


# --- releases -----------------------------------------------------------------------------------------

RELEASE_OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--split_seed=3"]


@pytest.fixture(scope="module")
def released(finished, tmp_path_factory):
    """(metadata, videos, out) of the finished run with its release built — never changed by a test."""
    found = copy_of(finished, tmp_path_factory.mktemp("released"))
    summary = run_release(*found)
    assert summary["release"]["status"] == "built"
    return found


@pytest.fixture
def release_store(released, tmp_path):
    return copy_of(released, tmp_path)


def run_release(metadata, videos, out, *extra):
    return run(metadata, videos, out, *extra, options=RELEASE_OPTIONS)


def release_folder(out: Path) -> Path:
    return out / "releases" / json.loads((out / "releases" / "latest.json").read_text())["path"]


def as_manifest_says(folder: Path) -> None:
    """Every file of the release holds the bytes its manifest names."""
    files = json.loads((folder / "manifest.json").read_text())["files"]
    for name, entry in files.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_a_damaged_release_is_repaired_to_its_manifest(release_store, caplog):
    metadata, videos, out = release_store
    folder = release_folder(out)
    shards = sorted((folder / "data").glob("*.parquet"))
    shards[0].unlink()
    flipped = bytearray(shards[-1].read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    shards[-1].write_bytes(bytes(flipped))
    (folder / "stats.npz").write_bytes(b"not an npz")
    summary = run_release(metadata, videos, out)
    assert summary["release"]["status"] == "repaired"
    as_manifest_says(folder)
    assert release_folder(out) == folder
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{shards[0]} is missing" in warned and f"{shards[-1]} holds other bytes" in warned
    assert run_release(metadata, videos, out)["release"]["status"] == "unchanged"


def test_a_garbage_manifest_means_the_release_is_built_again(release_store):
    metadata, videos, out = release_store
    folder = release_folder(out)
    shard = sorted((folder / "data").glob("*.parquet"))[0]
    good = shard.read_bytes()
    (folder / "manifest.json").write_text("{ this is not json")
    summary = run_release(metadata, videos, out)
    assert summary["release"]["status"] == "built"
    as_manifest_says(folder)
    assert shard.read_bytes() == good


def test_a_garbage_latest_json_is_written_again(release_store):
    metadata, videos, out = release_store
    folder = release_folder(out)
    (out / "releases" / "latest.json").write_text("garbage")
    summary = run_release(metadata, videos, out)
    assert summary["release"]["status"] == "unchanged"
    assert release_folder(out) == folder


def test_a_copied_release_is_hashed_once_then_trusted(release_store):
    metadata, videos, out = release_store
    folder = release_folder(out)
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data)  # other modification times, the same bytes
    assert run_release(metadata, videos, out)["release"]["status"] == "unchanged"
    files = json.loads((folder / "manifest.json").read_text())["files"]
    for name, entry in files.items():
        assert entry["stored"]["version"] == str(os.stat(folder / name).st_mtime_ns), name


def test_pipeline_release_refuses_a_damaged_array_naming_it(release_store, capsys):
    from pipeline import release as release_entry

    metadata, videos, out = release_store
    before = (out / "releases" / "latest.json").read_bytes()
    good = np.load(npy(out))
    np.save(npy(out), np.full_like(good, 7.0))
    code = release_entry.main([f"--output_dir={out}", "--split_seed=4", "--direct_num_workers=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and f"{npy(out)} is not the array its record vouches for" in err[-1]
    assert (out / "releases" / "latest.json").read_bytes() == before  # still the release that was verified
    complete = [p.parent.name for p in (out / "releases").glob("*/manifest.json")]
    assert complete == [json.loads(before)["path"]]  # no other folder passes for a release


def test_pipeline_release_refuses_a_hand_edited_csv(release_store, capsys):
    from pipeline import release as release_entry

    metadata, videos, out = release_store
    csv_path = out / "proc" / "processed_metadata.csv"
    lines = csv_path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("num_frames")] = "3"
    csv_path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    code = release_entry.main([f"--output_dir={out}", "--split_seed=4", "--direct_num_workers=1"])
    err = capsys.readouterr().err
    assert code == 2 and "no longer matches the records" in err and "num_frames is 3 in the CSV" in err
