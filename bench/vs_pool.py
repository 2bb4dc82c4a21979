"""`make bench`: a local run of a handful of HD clips against its two peers, the notebook's Pool(2) and pose-format's videos_to_poses.

`python -m bench.vs_pool [--workdir DIR] [--clips 6] [--seconds 6] [--repeats 3]`

All three start a fresh interpreter, run MediaPipe Holistic with the same settings
(bench.timing.LANDMARKS: model complexity 1) on the same HD clips (bench.hd_dataset:
the real clips upscaled to 1080p, looped to 6 s), two videos at a time on two cores:
  - the pipeline with its local defaults (two videos at once, each in an extraction process);
  - bench.pool_loop, the old notebook's multiprocessing.Pool(2) over the pipeline's
    extraction code (.pose and features v1 per clip);
  - pose-format's own CLI, `videos_to_poses --num-workers 2`, with the same Holistic
    settings given through --additional-config. It writes each .pose next to its video and
    has no output option, so every round gets a fresh folder of links to the clips. It
    writes the .pose only (no features, report or release): the pipeline's extra steps
    count against it, which is what the goal means to measure.
Rounds alternate (pipeline, pool, videos_to_poses, pipeline, …) so that load from anything
else on the machine hits all alike; figures are medians. CPU time (of each run and every
process it started) is printed too: other load barely moves it. A run's fixed cost here
is its wall time minus the time its two workers spent inside videos (their sum over two;
videos_to_poses prints no per-video times). After the rounds, each peer's .pose files are
compared with the pipeline's: the same landmarks mean the same settings and frames. The
pool's match on every clip; videos_to_poses' match on each worker's first clip only, as
between videos it flushes tracking with one blank frame, which leaves some state behind
(the pipeline and the pool call Holistic.reset()).
Printed last: pool time / pipeline time (goal >= 0.92) and videos_to_poses time /
pipeline time (goal >= 0.97), ratios of the median wall times, with the per-round ratios
and the ratio of median CPU times beside them.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from bench import hd_dataset
from bench.timing import LANDMARKS, Run, alternate, median, pipeline_command, timed

WORKERS = 2
POOL_GOAL = 0.92
VIDEOS_TO_POSES_GOAL = 0.97
PIPELINE, POOL, VIDEOS_TO_POSES = "pipeline (local defaults)", f"multiprocessing.Pool({WORKERS})", \
    f"videos_to_poses ({WORKERS} workers)"


def videos_to_poses_command(folder: Path) -> List[str]:
    """pose-format's CLI as its console script (pose_format.bin.directory has no __main__ guard, so not -m)."""
    config = ",".join(f"{key}={str(value).lower() if isinstance(value, bool) else value}"
                      for key, value in LANDMARKS.items())
    return [str(Path(sys.executable).with_name("videos_to_poses")), "--directory", str(folder),
            "--num-workers", str(WORKERS), "--additional-config", config]


def linked_clips(folder: Path, videos: Path, names: List[str]) -> Path:
    """A fresh folder holding links to exactly these clips: videos_to_poses poses every video it finds there."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).symlink_to((videos / name).resolve())
    return folder


def run_videos_to_poses(folder: Path, names: List[str]) -> Run:
    run = timed(videos_to_poses_command(folder))
    written = {path.stem for path in folder.glob("*.pose")}
    missing = sorted(name for name in names if Path(name).stem not in written)
    if missing:
        raise RuntimeError(f"videos_to_poses wrote no .pose for {', '.join(missing)}:\n{run.output[-3000:]}")
    return run


def why_videos_to_poses_cannot_run(folder: Path, videos: Path, names: List[str]) -> Optional[str]:
    """None when videos_to_poses poses one clip here; otherwise the command and its error."""
    probe = linked_clips(folder, videos, names[:1])
    try:
        run_videos_to_poses(probe, names[:1])
    except RuntimeError as error:
        return f"with {sys.executable}: {error}"
    return None


def landmarks(path: Path):
    from pose_format import Pose

    pose = Pose.read(path.read_bytes())
    return np.asarray(pose.body.data), np.asarray(pose.body.confidence)


def compare_landmarks(reference: Path, other: Path, names: List[str]) -> Tuple[int, float]:
    """How many clips' .pose files hold exactly the pipeline's landmarks and confidences, and the largest
    coordinate difference (pixels for image points) on any clip."""
    same, largest = 0, 0.0
    for stem in (Path(name).stem for name in names):
        (data, confidence), (other_data, other_confidence) = landmarks(reference / f"{stem}.pose"), \
            landmarks(other / f"{stem}.pose")
        same += np.array_equal(data, other_data) and np.array_equal(confidence, other_confidence)
        largest = max(largest, float(np.abs(data - other_data).max()) if data.shape == other_data.shape else np.inf)
    return same, largest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="Keep the dataset here (reused if present); default: a temp folder.")
    parser.add_argument("--clips", type=int, default=6, help="HD clips (default: %(default)s).")
    parser.add_argument("--seconds", type=float, default=6.0, help="Length of each looped HD clip (default: %(default)s).")
    parser.add_argument("--repeats", type=int, default=3, help="Alternated rounds (default: %(default)s).")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ghsl-bench-pool-"))
    print(f"Building {args.clips} HD clips in {workdir} …", flush=True)
    metadata = hd_dataset.build(workdir / "data", seconds=args.seconds, count=args.clips)
    videos = workdir / "data" / "videos"
    with open(metadata, newline="") as handle:
        names = [row["video_file"] for row in csv.DictReader(handle)]

    def fresh(name: str) -> Path:
        out = workdir / name
        shutil.rmtree(out, ignore_errors=True)
        return out

    variants = {
        PIPELINE: lambda: timed(pipeline_command(metadata, videos, fresh("out_pipeline"))),
        POOL: lambda: timed([
            "-m", "bench.pool_loop", f"--metadata_csv={metadata}", f"--video_dir={videos}",
            f"--output_dir={fresh('out_pool')}", f"--workers={WORKERS}"]),
        VIDEOS_TO_POSES: lambda: run_videos_to_poses(
            linked_clips(workdir / "out_videos_to_poses", videos, names), names),
    }
    print(f"Checking that {VIDEOS_TO_POSES.split()[0]} runs here (one clip) …", flush=True)
    cannot_run = why_videos_to_poses_cannot_run(workdir / "out_videos_to_poses", videos, names)
    if cannot_run:
        print(f"videos_to_poses left out: {cannot_run}", flush=True)
        del variants[VIDEOS_TO_POSES]

    results = alternate(variants, args.repeats)
    for name in (PIPELINE, POOL):
        assert all(len(r.video_seconds) == args.clips for r in results[name]), f"a {name} run did not report every video"

    def fixed(runs: List[Run]) -> float:
        return median(r.wall - sum(r.video_seconds) / WORKERS for r in runs)

    walls = {name: median(r.wall for r in runs) for name, runs in results.items()}
    print()
    print(f"{args.clips} HD clips (1920x1080, {args.seconds:g} s each), medians of {args.repeats} alternated rounds")
    for name, runs in results.items():
        fixed_part = f"wall minus video time / {WORKERS}: {fixed(runs):.1f}s" if name != VIDEOS_TO_POSES \
            else "prints no per-video times"
        print(f"  {name:<28} {walls[name]:6.1f}s wall, {median(r.cpu for r in runs):6.1f}s CPU ({fixed_part})")
    outputs = {POOL: workdir / "out_pool", VIDEOS_TO_POSES: workdir / "out_videos_to_poses"}
    for name in results:
        if name in outputs:
            same, largest = compare_landmarks(workdir / "out_pipeline" / "landmarks", outputs[name], names)
            print(f"  {name}: the pipeline's landmarks exactly on {same}/{len(names)} clips of the last round"
                  f"{f' (largest difference {largest:.2f})' if largest else ''}")
    for name, goal in ((POOL, POOL_GOAL), (VIDEOS_TO_POSES, VIDEOS_TO_POSES_GOAL)):
        peer = name.split(" ")[0]
        if name not in walls:
            print(f"{peer} time / pipeline time: not measured ({peer} could not run here, see above)")
            continue
        ratio = walls[name] / walls[PIPELINE]
        per_round = ", ".join(f"{peer_run.wall / run.wall:.2f}" for peer_run, run in zip(results[name], results[PIPELINE]))
        cpu_ratio = median(r.cpu for r in results[name]) / median(r.cpu for r in results[PIPELINE])
        print(f"{peer} time / pipeline time: {ratio:.2f} (rounds: {per_round}; CPU time: {cpu_ratio:.2f}; "
              f"goal >= {goal:.2f}) {'OK' if ratio >= goal else 'BELOW GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
