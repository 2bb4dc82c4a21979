"""Where a run's outputs go under --output_dir (OUT), in one place.

    OUT/landmarks/<stem>.pose              a video's landmarks (transforms/landmarks/pose_file.py)
    OUT/features/pose_data/<stem>.npy      a saved clip's features (transforms/store/publish.py)
    OUT/features/records/<stem>.json       how each result was made (transforms/store/records.py)
    OUT/features/index/                    the record index (transforms/store/record_index.py)
    OUT/proc/                              the reports (transforms/reports/reports.py)
    OUT/releases/                          dataset releases (transforms/release/layout.py)

<stem> is the metadata's video_file without its extension, so videos in
subfolders keep their folders.
"""
from __future__ import annotations

from transforms.common import storage

LANDMARKS_SUBDIR = ("landmarks",)
LANDMARK_SUFFIX = ".pose"
FEATURES_SUBDIR = ("features", "pose_data")
RECORDS_SUBDIR = ("features", "records")
INDEX_SUBDIR = ("features", "index")
PROC_SUBDIR = "proc"


def landmark_path(output_dir: str, stem: str) -> str:
    return storage.join(output_dir, *LANDMARKS_SUBDIR, stem + LANDMARK_SUFFIX)


def feature_path(output_dir: str, stem: str) -> str:
    return storage.join(output_dir, *FEATURES_SUBDIR, stem + ".npy")


def record_path(output_dir: str, stem: str) -> str:
    return storage.join(output_dir, *RECORDS_SUBDIR, stem + ".json")


def index_path(output_dir: str, name: str) -> str:
    return storage.join(output_dir, *INDEX_SUBDIR, name)


def proc_path(output_dir: str, name: str) -> str:
    return storage.join(output_dir, PROC_SUBDIR, name)
