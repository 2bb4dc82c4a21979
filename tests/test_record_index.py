"""The record index: what it holds, when it is trusted, its exact total, and runs that must do without it.

The per-video records stay the truth: an index that is missing, damaged or older
than the records is detected, the records it cannot vouch for are read
themselves, and the outputs are those of a run with a good index. Its stored total
lets a re-run sum only what changed: nothing for a run with nothing new.
"""
import gzip
import json
import shutil

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import make_dataset
from tests.test_incremental import assert_same_outputs
from transforms.common import storage
from transforms.common.moments import ExactMoments, Moments
from transforms.common.storage import ObjectInfo
from transforms.store import record_index, records

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# The release has its own tests (tests/test_release.py); here it would only be rebuilt after every run.
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


def entry(version: str, status: str = "success") -> record_index.Entry:
    return record_index.Entry(100, version, {"format": records.FORMAT, "status": status, "video_file": "v.mp4"})


def exact(seed: int) -> ExactMoments:
    values = np.random.default_rng(seed).normal(size=(7, 540))
    return ExactMoments.of(Moments(7, values.sum(axis=0), np.square(values).sum(axis=0)))


# --- the object ----------------------------------------------------------------------------------

def test_the_index_gives_back_its_entries_and_its_exact_total(tmp_path):
    out = str(tmp_path)
    total = record_index.Total("f" * 64, exact(0).plus(exact(1)))
    record_index.write(out, {"a": entry("1"), "b/c": entry("2"), "d": entry("3", "low_quality")}, total)
    stored, entries = record_index.read(out)
    assert stored == total and dict(entries) == {"a": entry("1"), "b/c": entry("2"), "d": entry("3", "low_quality")}


def test_an_entry_is_trusted_only_while_its_record_file_is_the_one_indexed():
    indexed = entry("1")
    assert indexed.is_current(ObjectInfo(100, 0.0, None, "1"))
    assert not indexed.is_current(ObjectInfo(100, 0.0, None, "2"))   # rewritten since
    assert not indexed.is_current(ObjectInfo(101, 0.0, None, "1"))
    assert not indexed.is_current(None)                              # gone


@pytest.mark.parametrize("damage", [b"not gzip at all", gzip.compress(b'{"format": "other"}\n', mtime=0)],
                         ids=["not gzip", "another format"])
def test_a_damaged_index_is_not_used_and_says_why(tmp_path, damage):
    storage.write_bytes(record_index.path(str(tmp_path)), damage)
    with pytest.raises(record_index.Unusable):
        record_index.read(str(tmp_path))


def test_an_index_cut_short_gives_its_whole_lines_and_then_says_why(tmp_path):
    text = '{"format": "ghsl-record-index/2", "total": null}\n' \
           '{"stem": "a", "size": 100, "version": "1", "record": {}}\n{"stem": '
    storage.write_bytes(record_index.path(str(tmp_path)), gzip.compress(text.encode(), mtime=0))
    _, entries = record_index.read(str(tmp_path))
    assert next(entries)[0] == "a"
    with pytest.raises(record_index.Unusable):
        next(entries)


def test_an_index_of_the_format_before_exact_totals_gives_its_entries_and_no_total(tmp_path):
    text = '{"format": "ghsl-record-index/1", "saved": {"keys": "x", "count": 7}}\n' \
           '{"stem": "a", "size": 100, "version": "1", "record": {"status": "success"}}\n'
    storage.write_bytes(record_index.path(str(tmp_path)), gzip.compress(text.encode(), mtime=0))
    total, entries = record_index.read(str(tmp_path))
    assert total is None and [stem for stem, _ in entries] == ["a"]


# --- runs ----------------------------------------------------------------------------------------

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


def index_text(out):
    return gzip.decompress((out / "features" / "index" / record_index.RECORDS_FILE).read_bytes()).decode()


def statistics_are_those_of_the_arrays(out):
    arrays = [np.load(p).astype(np.float64) for p in (out / "features" / "pose_data").rglob("*.npy")]
    frames = np.concatenate(arrays)
    with np.load(out / "proc" / "global_stats.npz") as stats:
        assert int(stats["frame_count"]) == len(frames)
        np.testing.assert_allclose(stats["feature_mean"], frames.mean(axis=0), rtol=1e-5, atol=1e-6)
        floor = np.sqrt(np.maximum(frames.var(axis=0), 1e-8))  # the definition's variance floor
        np.testing.assert_allclose(stats["feature_std"], floor, rtol=1e-4, atol=1e-6)


def test_a_run_with_nothing_new_sums_nothing_and_rewrites_no_index(copy):
    again, out = copy
    before = (out / "features" / "index" / record_index.RECORDS_FILE).stat().st_mtime_ns
    summary = again()
    assert summary["videos_reused"] == len(CLIPS)
    assert summary["counters"].get("records_read", 0) == 0
    assert summary["counters"].get("moments_read_from_records", 0) == 0
    assert (out / "features" / "index" / record_index.RECORDS_FILE).stat().st_mtime_ns == before
    statistics_are_those_of_the_arrays(out)


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
    assert index_text(out) == index_text(finished[1])  # rebuilt as it was, its total included
    assert again()["counters"].get("records_read", 0) == 0


def test_records_newer_than_the_index_are_read_and_the_index_catches_up(copy):
    again, out = copy
    older = (out / "features" / "index" / record_index.RECORDS_FILE).read_bytes()
    changed = again("--ema_alpha=0.3")  # every record rewritten, the index with them
    assert changed["videos_recomputed"] == len(CLIPS)
    after_change = json.loads(index_text(out).splitlines()[0])
    # As if the run had been killed before it wrote the index: the index names the old records.
    (out / "features" / "index" / record_index.RECORDS_FILE).write_bytes(older)
    before = published(out)
    summary = again("--ema_alpha=0.3")
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["videos_reused"]) == (0, 0, len(CLIPS))
    assert summary["counters"]["records_read"] == len(CLIPS)
    assert published(out) == before
    assert json.loads(index_text(out).splitlines()[0]) == after_change
    statistics_are_those_of_the_arrays(out)


def test_a_new_clip_is_added_to_the_stored_total_and_a_removed_one_taken_out(finished, copy, tmp_path):
    again, out = copy
    argv, _ = finished
    metadata, videos = (arg.split("=", 1)[1] for arg in argv[:2])
    more = tmp_path / "videos"
    shutil.copytree(videos, more)  # copy2: sizes and times kept, so the three are unchanged
    shutil.copy(more / "SOUP.mp4", more / "soup_again.mp4")
    rows = open(metadata, encoding="utf-8").read()
    (tmp_path / "more.csv").write_text(rows + "soup_again.mp4,9,Again,c\n", encoding="utf-8")
    summary = again(f"--metadata_csv={tmp_path / 'more.csv'}", f"--video_dir={more}")
    assert (summary["videos_decoded"], summary["videos_reused"]) == (1, len(CLIPS))
    assert summary["counters"].get("moments_read_from_records", 0) == 0  # the others' are in the total
    statistics_are_those_of_the_arrays(out)

    # test_video leaves the metadata: its outputs stay (orphans), its moments leave the total.
    (tmp_path / "fewer.csv").write_text("".join(line + "\n" for line in (rows + "soup_again.mp4,9,Again,c").splitlines()
                                                if not line.startswith("test_video")), encoding="utf-8")
    summary = again(f"--metadata_csv={tmp_path / 'fewer.csv'}", f"--video_dir={more}",
                    "--prune_orphans")
    assert summary["orphaned_outputs"] == 3 and summary["counters"]["moments_read_from_records"] == 1
    statistics_are_those_of_the_arrays(out)


def test_reprocessing_everything_sums_the_total_again_and_counts_each_clip_once(copy, finished):
    again, out = copy
    summary = again("--reprocess=all")
    assert summary["videos_decoded"] == len(CLIPS)
    statistics_are_those_of_the_arrays(out)
    with np.load(out / "proc" / "global_stats.npz") as new, np.load(finished[1] / "proc" / "global_stats.npz") as old:
        assert new["feature_mean"].tobytes() == old["feature_mean"].tobytes()
        assert int(new["frame_count"]) == int(old["frame_count"])
