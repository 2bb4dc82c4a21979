"""What every test of a release's croissant.json checks, with MLCommons' own reader (mlcroissant).

mlcroissant is a test-only dependency, pinned in requirements-test.lock and installed by `make install`; a
test skips, saying so, only where it is not installed.
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

CROISSANT = "croissant.json"


def mlcroissant():
    try:
        import mlcroissant as mlc
    except ImportError:
        pytest.skip("mlcroissant is not installed: `make install` installs it from requirements-test.lock")
    return mlc


def load_json(path: Path) -> dict:
    """The file as JSON; fails on NaN or Infinity, which JSON does not have."""
    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def validate(folder: Path):
    """mlcroissant's Dataset of the release: no error (it raises) and no warning."""
    mlc = mlcroissant()
    dataset = mlc.Dataset(jsonld=str(folder / CROISSANT))
    issues = dataset.metadata.ctx.issues
    assert not issues.errors and not issues.warnings, issues.report()
    return dataset


def validate_command(folder: Path) -> str:
    """`mlcroissant validate --jsonld FILE`, as a user runs it; its output, which has no error or warning line."""
    mlcroissant()
    command = Path(sys.executable).parent / "mlcroissant"
    done = subprocess.run([str(command), "validate", "--jsonld", str(folder / CROISSANT)], capture_output=True,
                          text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # absl log lines start with their level: E (error) and W (warning) lines would say what is wrong.
    assert not [line for line in output.splitlines() if line[:1] in ("E", "W") and line[1:5].isdigit()], output
    assert "Done." in output
    return output


def parquet_rows(folder: Path, split: str) -> pd.DataFrame:
    shards = sorted((folder / "data").glob(f"{split}-*.parquet"))
    if not shards:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p) for p in shards], ignore_index=True)


def _plain(value):
    """A value as mlcroissant gives it (bytes for text, NumPy scalars), as Python values."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def assert_records_are_the_parquet_rows(folder: Path):
    """Every split's records, read by mlcroissant one split at a time, are the split's Parquet rows: the same
    count, the same values, the same feature arrays (dtype and bits); reading every split at once too.

    Each read opens the file anew: mlcroissant narrows its FileSet in place when it filters on a split."""
    document = load_json(folder / CROISSANT)
    [clips] = [r for r in document["recordSet"] if r["@id"] == "clips"]
    names = [f["name"] for f in clips["field"]]
    ids = {f["name"]: f["@id"] for f in clips["field"]}
    [splits] = [r for r in document["recordSet"] if r["@id"] == "splits"]
    total = 0
    for entry in splits["data"]:
        split = entry["splits/name"]
        expected = parquet_rows(folder, split)
        records = list(validate(folder).records(record_set="clips", filters={"clips/split": split}))
        assert len(records) == len(expected) == entry["splits/clips"], split
        total += len(records)
        by_video = {_plain(r[ids["video_file"]]): r for r in records}
        assert sorted(by_video) == (sorted(expected["video_file"]) if len(expected) else [])
        for _, row in expected.iterrows():
            record = by_video[row["video_file"]]
            for name in names:
                got = record[ids[name]]
                if name == "features":
                    array, stored = np.asarray(got), np.stack(row[name])
                    assert array.dtype == stored.dtype and array.shape == stored.shape
                    assert stored.shape[0] == row["num_frames"]
                    np.testing.assert_array_equal(array, stored)
                elif isinstance(row[name], np.ndarray):
                    assert _plain(got) == list(row[name]), name
                else:
                    assert _plain(got) == _plain(row[name]), (split, row["video_file"], name)
    every = [_plain(r[ids["split"]]) for r in validate(folder).records(record_set="clips")]
    assert len(every) == total == sum(pq.read_metadata(p).num_rows for p in (folder / "data").glob("*.parquet"))


def assert_files_are_listed_with_their_checksums(folder: Path):
    """Every file but the manifest is a FileObject at a relative path with the file's size and sha256, the same
    as the manifest's; the manifest lists croissant.json itself."""
    document = load_json(folder / CROISSANT)
    manifest = load_json(folder / "manifest.json")
    objects = {d["contentUrl"]: d for d in document["distribution"] if d["@type"] == "cr:FileObject"}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(objects) == on_disk - {CROISSANT, "manifest.json"}
    for path, entry in objects.items():
        assert not path.startswith("/") and "://" not in path, path
        data = (folder / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() == manifest["files"][path]["sha256"], path
        assert entry["contentSize"] == f"{len(data)} B"
    assert manifest["files"][CROISSANT]["sha256"] == hashlib.sha256((folder / CROISSANT).read_bytes()).hexdigest()


def assert_fields_are_the_release_fields(folder: Path):
    """The clips' fields are the Parquet schema's, in order, with feature_schema.json's meanings; `features` is an
    array of frames as wide as feature_schema.json says, of its dtype."""
    document = load_json(folder / CROISSANT)
    schema = load_json(folder / "feature_schema.json")
    [clips] = [r for r in document["recordSet"] if r["@id"] == "clips"]
    parquet_names = pq.read_schema(next((folder / "data").glob("*.parquet"))).names
    assert [f["name"] for f in clips["field"]] == parquet_names == [f["name"] for f in schema["fields"]]
    meanings = {f["name"]: f["description"] for f in schema["fields"]}
    for field in clips["field"]:
        assert field["description"] == meanings[field["name"]]
    [features] = [f for f in clips["field"] if f["name"] == "features"]
    assert features["isArray"] is True and features["arrayShape"] == f"-1,{schema['dim']}"
    assert features["dataType"] == "cr:" + schema["dtype"].capitalize()
    [columns] = [r for r in document["recordSet"] if r["@id"] == "feature_columns"]
    assert [d["feature_columns/name"] for d in columns["data"]] == schema["columns"]


def check_release(folder: Path) -> dict:
    """All of the above on one release folder; its croissant.json as JSON."""
    assert_files_are_listed_with_their_checksums(folder)
    assert_fields_are_the_release_fields(folder)
    assert_records_are_the_parquet_rows(folder)
    return load_json(folder / CROISSANT)
