"""The old notebook's way: a plain multiprocessing.Pool over the videos, no Beam.

`python -m bench.pool_loop --metadata_csv=… --video_dir=… --output_dir=… [--workers=2]`

Each pool process builds one HolisticExtractor and runs exactly the pipeline's
extraction code on its videos (HolisticExtractor.extract, the .pose written,
features v1 from it with the default quality rules, the .npy written), one
video at a time, taking the next video as soon as it is free. It prints the pipeline's progress lines, so
bench.timing reads both the same way.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

from transforms.features import v1 as features
from transforms.landmarks import pose_file
from transforms.landmarks.holistic import HolisticExtractor

_extractor = None


def _start_worker() -> None:
    global _extractor
    # The notebook's settings: the shipped pose model and Holistic's own defaults (bench.timing.LANDMARKS, written
    # out here so that this peer imports nothing the notebook did not).
    _extractor = HolisticExtractor(model_complexity=1, min_detection_confidence=0.5, min_tracking_confidence=0.5,
                                   refine_face_landmarks=False, smooth_landmarks=True)


def _one(task) -> tuple:
    name, video_dir, out_dir = task
    started = time.monotonic()
    pose = _extractor.extract(os.path.join(video_dir, name))
    with open(os.path.join(out_dir, Path(name).stem + ".pose"), "wb") as handle:
        handle.write(pose)
    points = pose_file.read_points(pose)
    verdict = features.clip_features(features.from_points(points), features.QualityConfig())
    if verdict.features is not None:
        np.save(os.path.join(out_dir, Path(name).stem + ".npy"), verdict.features, allow_pickle=False)
    return name, verdict.status, len(points), time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metadata_csv", required=True)
    parser.add_argument("--video_dir", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with open(args.metadata_csv, newline="") as handle:
        names = [row["video_file"] for row in csv.DictReader(handle)]
    os.makedirs(args.output_dir, exist_ok=True)
    tasks = [(name, args.video_dir, args.output_dir) for name in names]
    with multiprocessing.Pool(args.workers, initializer=_start_worker) as pool:
        # chunksize 1: a free process takes the next video, as the notebook did.
        for done, (name, status, frames, seconds) in enumerate(pool.imap_unordered(_one, tasks, chunksize=1), 1):
            print(f"[{done}/{len(tasks)}] {status:<11} {frames:4d} frames {seconds:6.1f}s  {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
