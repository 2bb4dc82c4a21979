"""The record index: what it holds, when it is trusted, and runs that must do without it.

The per-video records stay the truth: an index that is missing, damaged or older
than the records is detected, the records it cannot vouch for are read
themselves, and the outputs are those of a run with a good index.
"""
import gzip
import json
import shutil

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import make_dataset
from tests.test_incremental import assert_same_outputs
from transforms.common.moments import Moments
from transforms.store import record_index, records
from transforms.store.paths import record_path
from transforms.common import storage
from transforms.common.storage import ObjectInfo

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# The release has its own tests (tests/test_release.py); here it would only be rebuilt after every run.
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


def entry(version: str, status: str = "success") -> record_index.Entry:
    return record_index.Entry(100, version, {"format": records.FORMAT, "status": status, "video_file": "v.mp4"})


def v1_moments(seed: int) -> Moments:
    values = np.random.default_rng(seed).normal(size=(7, 540))
    return Moments(7, values.sum(axis=0), np.square(values).sum(axis=0))


# --- the objects ---------------------------------------------------------------------------------

def test_the_index_gives_back_its_entries_moments_and_sum_bit_for_bit(tmp_path):
    out = str(tmp_path)
    v2 = Moments(np.arange(544, dtype=np.int64), np.linspace(0, 1, 544), np.linspace(1, 2, 544))
    moments = {"a": ("1", v1_moments(0)), "b/c": ("2", v1_moments(1))}
    saved = Moments(14, moments["a"][1].total + moments["b/c"][1].total,
                    moments["a"][1].total_sq + moments["b/c"][1].total_sq)
    record_index.write(out, {"a": entry("1"), "b/c": entry("2"), "d": entry("3", "low_quality")}, moments, saved)
    index = record_index.read(out)
    assert index.problem is None and set(index.entries) == {"a", "b/c", "d"}
    assert index.entries["d"] == entry("3", "low_quality")
    assert index.saved_keys == record_index.saved_keys([("a", "1"), ("b/c", "2")])
    np.testing.assert_array_equal(index.saved.total, saved.total)
    back = record_index.read_moments(out, {"a": "1", "b/c": "2"})
    np.testing.assert_array_equal(back["b/c"].total_sq, moments["b/c"][1].total_sq)
    assert back["a"].count == 7

    record_index.write(out, {"e": entry("9")}, {"e": ("9", v2)}, v2)  # features v2: a count per column
    np.testing.assert_array_equal(record_index.read_moments(out, {"e": "9"})["e"].count, v2.count)


def test_an_entry_is_trusted_only_while_its_record_file_is_the_one_indexed(tmp_path):
    record_index.write(str(tmp_path), {"same": entry("1"), "rewritten": entry("1"), "gone": entry("1")}, {}, None)
    listed = {"same": ObjectInfo(100, 0.0, None, "1"), "rewritten": ObjectInfo(100, 0.0, None, "2"),
              "new": ObjectInfo(100, 0.0, None, "1")}
    found, stale = record_index.read(str(tmp_path)).trusted(listed)
    assert set(found) == {"same"} and stale == {"rewritten", "new"}


@pytest.mark.parametrize("damage", [b"not gzip at all", gzip.compress(b'{"format": "other"}\n', mtime=0),
                                    gzip.compress(b'{"format": "ghsl-record-index/1"}\n{"stem": ', mtime=0)],
                         ids=["not gzip", "another format", "cut short"])
def test_a_damaged_index_is_not_used_and_says_why(tmp_path, damage):
    storage.write_bytes(record_index.path(str(tmp_path), record_index.RECORDS_FILE), damage)
    index = record_index.read(str(tmp_path))
    assert index.entries == {} and index.problem


def test_moments_the_index_lacks_are_read_from_the_records(tmp_path):
    out = str(tmp_path)
    m = v1_moments(3)
    record = {"format": records.FORMAT, "status": "success", "moments": records.moments_json(m)}
    storage.write_text(record_path(out, "x"), records.to_json(record))
    record_index.write(out, {}, {"x": ("old version", v1_moments(4))}, None)
    np.testing.assert_array_equal(record_index.read_moments(out, {"x": "new version"})["x"].total, m.total)


# --- runs without a usable index -----------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory, sign_clips):
    """A finished local run over three real clips: (argv without --output_dir, its output folder)."""
    root = tmp_path_factory.mktemp("index")
    metadata, videos = make_dataset(root, [(name, sign_clips / name) for name in CLIPS])
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", *OPTIONS]
    out = root / "out"
    run_job.run([*argv, f"--output_dir={out}"])
    return argv, out


@pytest.fixture
def copy(finished, tmp_path):
    argv, out = finished
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return lambda *extra: run_job.run([*argv, f"--output_dir={target}", *extra]), target


def published(out):
    """The bytes of every feature array, record and report CSV."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and (p.suffix in (".npy", ".csv") or "records" in p.parts)}


def index_files(out):
    return {name: (out / "features" / "index" / name).read_bytes()
            for name in (record_index.RECORDS_FILE, record_index.MOMENTS_FILE)}


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_without_a_usable_index_the_records_are_read_and_the_outputs_are_the_same(finished, copy, damage):
    again, out = copy
    index = out / "features" / "index" / record_index.RECORDS_FILE
    if damage == "deleted":
        shutil.rmtree(index.parent)
    else:
        index.write_bytes(b"\x1f\x8b garbage")
    summary = again()
    assert (summary["videos_decoded"], summary["videos_reused"]) == (0, len(CLIPS))
    assert summary["counters"]["records_read"] == len(CLIPS)
    assert_same_outputs(out, finished[1])
    assert index_files(out) == index_files(finished[1])  # rebuilt as it was
    assert again()["counters"].get("records_read", 0) == 0


def test_records_newer_than_the_index_are_read_and_the_index_catches_up(copy):
    again, out = copy
    older = index_files(out)
    changed = again("--ema_alpha=0.3")  # every record rewritten, the index with them
    assert changed["videos_recomputed"] == len(CLIPS)
    after_change = {**index_files(out)}
    # As if the run had been killed before it wrote the index: the index names the old records.
    for name, data in older.items():
        (out / "features" / "index" / name).write_bytes(data)
    before = published(out)
    summary = again("--ema_alpha=0.3")
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["videos_reused"]) == (0, 0, len(CLIPS))
    assert summary["counters"]["records_read"] == len(CLIPS)
    assert published(out) == before
    assert json.loads(gzip.decompress(index_files(out)[record_index.RECORDS_FILE]).splitlines()[0]) == \
        json.loads(gzip.decompress(after_change[record_index.RECORDS_FILE]).splitlines()[0])


def test_statistics_are_right_when_the_moments_of_the_index_are_gone(finished, copy, tmp_path):
    again, out = copy
    argv, _ = finished
    (out / "features" / "index" / record_index.MOMENTS_FILE).unlink()
    # One more video: the statistics need the moments of the three clips reused, which the records give.
    metadata, videos = (arg.split("=", 1)[1] for arg in argv[:2])
    more = tmp_path / "videos"
    shutil.copytree(videos, more)  # copy2: sizes and times kept, so the three are unchanged
    shutil.copy(more / "SOUP.mp4", more / "soup_again.mp4")
    rows = open(metadata, encoding="utf-8").read() + "soup_again.mp4,9,Again,c\n"
    (tmp_path / "m.csv").write_text(rows, encoding="utf-8")
    summary = again(f"--metadata_csv={tmp_path / 'm.csv'}", f"--video_dir={more}")
    assert (summary["videos_decoded"], summary["videos_reused"]) == (1, len(CLIPS))
    arrays = [np.load(p).astype(np.float64) for p in (out / "features" / "pose_data").glob("*.npy")]
    frames = np.concatenate(arrays)
    with np.load(out / "proc" / "global_stats.npz") as stats:
        assert int(stats["frame_count"]) == len(frames)
        np.testing.assert_allclose(stats["feature_mean"], frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert (out / "features" / "index" / record_index.MOMENTS_FILE).exists()  # and the index is whole again
