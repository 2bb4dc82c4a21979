"""A feature version is one module: the rest of the product asks the version, and stores from before still hold.

* A third version that lives in the tests (tests/hands_only_version.py, named by its import path) runs
  through the real job, its reports, its release and card, and a standalone pipeline.release.
* No product file outside transforms/features/ names a version or imports one.
* Outputs written by the code of STORE_COMMIT (before versions were values) are reused as they stand:
  no clip decoded or recomputed, and nothing rewritten.
"""
import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import run as run_job
from transforms.store import records
from tests.conftest import REPO, make_dataset, read_csv
from tests.hands_only_version import NAME as HANDS_ONLY

SIGNING = ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4")
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=2"]
# The last commit before feature versions were values (transforms/features/registry.py).
STORE_COMMIT = "839c5778bb77d40d8b49e82aaeff06a094d46f0c"


@pytest.fixture(scope="module")
def hands_only(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("hands-only")
    metadata, videos = make_dataset(root, [(name, sign_clips / name) for name in SIGNING])
    out = root / "out"
    summary = run_job.run([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                           f"--feature_version={HANDS_ONLY}", *OPTIONS])
    return out, summary


def test_a_version_named_by_import_path_makes_the_features_and_reports(hands_only):
    out, summary = hands_only
    schema = json.loads((out / "proc" / "feature_schema.json").read_text())
    assert schema["feature_version"] == HANDS_ONLY and schema["dim"] == 126
    assert schema["columns"][:2] == ["left_hand_0_x", "left_hand_0_y"] and schema["options"] == {
        "feature_version": HANDS_ONLY, "min_frames": 5, "keep_low_quality": False}
    rows = read_csv(out / "proc" / "processed_metadata.csv")
    assert rows and all(r["frame_feature_dim"] == "126" for r in rows)
    for row in rows:
        array = np.load(row["feature_path"])
        assert array.shape == (int(row["num_frames"]), 126) and array.dtype == np.float32
    stats = np.load(out / "proc" / "global_stats.npz")
    assert stats["feature_mean"].shape == (126,) and int(stats["frame_count"]) == sum(int(r["num_frames"]) for r in rows)
    report = (out / "proc" / "report.html").read_text(encoding="utf-8")
    assert "Could not draw" not in report  # its saved clips are drawn from what the version says it keeps


def test_its_release_and_card_describe_it_in_its_own_words(hands_only):
    out, summary = hands_only
    release = out / "releases" / summary["release"]["release_id"]
    table = pq.read_table(next((release / "data").glob("train-*.parquet")))
    assert table.schema.field("features").type.value_type.list_size == 126
    card = (release / "README.md").read_text(encoding="utf-8")
    assert "hands only (a version of the test suite)" in card and "- Hands only: no pose, no face." in card
    assert "(num_frames × 126)" in card and "the frames in which a hand was seen" in card
    fields = json.loads((release / "feature_schema.json").read_text())
    assert fields["feature_version"] == HANDS_ONLY and "column_presence" not in fields


def test_a_standalone_release_finds_the_version_by_its_import_path(hands_only):
    out, _ = hands_only
    done = subprocess.run([sys.executable, "-m", "pipeline.release", f"--output_dir={out}",
                           "--release_dtype=float16"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    latest = json.loads((out / "releases" / "latest.json").read_text())
    table = pq.read_table(out / "releases" / latest["path"] / "data")
    assert str(table.schema.field("features").type.value_type.value_type) == "halffloat"


def test_a_version_that_cannot_be_imported_stops_the_run_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        run_job.main(["--metadata_csv=m.csv", f"--video_dir={tmp_path}", f"--output_dir={tmp_path / 'out'}",
                      "--feature_version=tests.no_such_module:VERSION"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --feature_version=tests.no_such_module:VERSION: cannot import") and len(
        error.splitlines()) == 2
    assert not (tmp_path / "out").exists()


# --- no product file outside transforms/features/ names a version ------------------------------------

PRODUCT = [p for folder in ("pipeline", "transforms") for p in (REPO / folder).rglob("*.py")
           if "features" not in p.relative_to(REPO).parts]


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(REPO)))
def test_no_product_file_outside_the_features_stage_names_a_version(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not re.fullmatch(r"v\d+", node.value), f"{path.name}:{node.lineno} names version {node.value!r}"
        if isinstance(node, ast.ImportFrom) and node.module == "transforms.features":
            assert not {a.name for a in node.names} & {"v1", "v2"}, f"{path.name}:{node.lineno} imports a version"
        if isinstance(node, ast.ImportFrom) and re.fullmatch(r"transforms\.features\.v\d+", node.module or ""):
            pytest.fail(f"{path.name}:{node.lineno} imports {node.module}")


# --- a store written before the change ---------------------------------------------------------------

# What describes the run itself (its summary, lease, report page and log: what it decoded and reused, how long
# it took), which every run rewrites; and the record index, which a run since moved to exact totals rewrites once.
RUN_FILES = ("run_summary.json", ".lease.json", "report.html", "run_log.txt", "records.jsonl.gz", "moments.npz")


def _files(folder: Path) -> dict:
    """Every output's sha256 but the RUN_FILES."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in RUN_FILES}


@pytest.fixture(scope="module")
def old_code(tmp_path_factory):
    """The tree of STORE_COMMIT, from git (the suite runs in a clone of this repository)."""
    folder = tmp_path_factory.mktemp("store-commit")
    archive = folder / "tree.tar"
    with open(archive, "wb") as handle:
        done = subprocess.run(["git", "archive", STORE_COMMIT], cwd=REPO, stdout=handle, stderr=subprocess.PIPE)
    assert done.returncode == 0, f"git cannot give {STORE_COMMIT}: {done.stderr.decode()}"
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_store_written_before_versions_were_values_is_upgraded_without_decoding(old_code, tmp_path, sign_clips,
                                                                                  version):
    metadata, videos = make_dataset(tmp_path, [(name, sign_clips / name) for name in ("SOUP.mp4", "test_video.mp4")])
    out = tmp_path / "out"
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS,
            f"--feature_version={version}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run([sys.executable, "-m", "pipeline.run", *argv], cwd=old_code, capture_output=True,
                          text=True, timeout=600, env={**env, "PYTHONPATH": str(old_code)})
    assert done.returncode == 0, done.stderr[-3000:]
    before = _files(out)
    summary = run_job.run(argv)
    # Its records keep no checksum of their files: each is upgraded from its checked .pose (features
    # recomputed and compared with the stored .npy, which is the same), no video decoded.
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["files_healed"]) == (0, 2, 0)
    after = _files(out)
    upgraded = {name for name in before if name.startswith("features/records/")}
    assert len(upgraded) == 2 and all(after[name] != before[name] for name in upgraded)
    for name in upgraded:
        record = json.loads((out / name).read_text())
        assert record["format"] == records.FORMAT
        stem = name[len("features/records/"):-len(".json")]
        assert record["features"]["sha256"] == before[f"features/pose_data/{stem}.npy"]
    if version == "v2":
        # v2's saved clips had no preview before (a reshape error), so none was kept for the next report;
        # now they have one.
        assert before.pop("proc/report_previews.json", None) != after.pop("proc/report_previews.json")
    # The duplicate audit's settings are inputs of every release (docs/duplicates.md, Release identity), so
    # this run cuts a new release beside the old code's, which stays as it was (a release is immutable); the
    # new manifest keeps each file's identity (transforms/release/verify.py).
    latest = json.loads((out / "releases" / "latest.json").read_text())["release_id"]
    released = {name for name in after if name not in before}
    assert not any(name.startswith(f"releases/{latest}/") for name in before)
    stored = json.loads((out / "releases" / latest / "manifest.json").read_text())
    assert stored["files"] and all("stored" in entry for entry in stored["files"].values())
    changed = {name for name in before if after.get(name) != before[name]}
    assert changed - upgraded == {"releases/latest.json"}, changed - upgraded
    # and the duplicate audit, new in this code, writes its reports.
    assert {name for name in released if not name.startswith(f"releases/{latest}/")} == {
        f"proc/{name}" for name in ("duplicates.csv", "sentence_duplicates.csv", "duplicate_links.json")}
    again = run_job.run(argv)
    assert (again["videos_decoded"], again["videos_recomputed"], again["videos_reused"]) == (0, 0, 2)
