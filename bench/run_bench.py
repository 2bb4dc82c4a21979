"""`make bench`: does the Beam fan-out really run videos in parallel?

Builds an HD dataset from the real clips, then in the same run:
  1. the pipeline on the DirectRunner with its local defaults (two videos at once, on threads);
  2. a plain single-process loop over the same videos with the same extraction
     code (HolisticExtractor + the v1 feature function + the .npy write).
Prints frames per second for both and their ratio. Goal on a 2-core machine:
ratio ≥ 1.3.

Then a no-op re-run of the pipeline on the same dataset and output: it must
decode zero videos and take at most 30% of the full run's wall time. Then a
re-run with --min_frames and --ema_alpha changed: it must decode zero videos
(features are recomputed from the stored .pose files) and take at most 25% of
the full run's wall time; it also prints the milliseconds per video of the
recompute alone (read the .pose, compute v1) and the landmark bytes per frame.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import hd_dataset
from bench.timing import LANDMARKS
from pipeline.logs import configure_logging
from pipeline import run as run_job
from transforms.features import v1 as features
from transforms.landmarks import pose_file
from transforms.common import storage
from transforms.landmarks.holistic import HolisticExtractor

GOAL = 1.3
NO_OP_GOAL = 0.30
OPTION_CHANGE_GOAL = 0.25
CHANGED_OPTIONS = ("--min_frames=32", "--ema_alpha=0.3")


def single_process_loop(metadata: Path, video_dir: Path, out_dir: Path) -> tuple:
    """(frames decoded, seconds) for the same work done one video after another."""
    with open(metadata, newline="") as handle:
        names = [r["video_file"] for r in csv.DictReader(handle)]
    started = time.perf_counter()
    extractor = HolisticExtractor(**LANDMARKS)
    frames = 0
    for name in names:
        pose = extractor.extract(str(video_dir / name))
        storage.write_bytes(str(out_dir / "landmarks" / (Path(name).stem + ".pose")), pose)
        points = pose_file.read_points(pose)
        result = features.clip_features(features.from_points(points), features.QualityConfig(min_frames=1))
        if result.features is not None:
            storage.write_bytes(str(out_dir / (Path(name).stem + ".npy")), storage.npy_bytes(result.features))
        frames += len(points)
    extractor.close()
    return frames, time.perf_counter() - started


def recompute_alone(landmark_dir: Path, repeats: int = 3) -> tuple:
    """(median milliseconds per video, bytes per frame) of reading each stored .pose and computing v1 from it."""
    paths = sorted(landmark_dir.glob("*.pose"))
    cfg = features.QualityConfig(min_frames=32, ema_alpha=0.3)
    times, frames = [], 0
    for _ in range(repeats):
        started, frames = time.perf_counter(), 0
        for path in paths:
            points = pose_file.read_points(path.read_bytes())
            features.clip_features(features.from_points(points), cfg)
            frames += len(points)
        times.append((time.perf_counter() - started) * 1000 / len(paths))
    return statistics.median(times), sum(p.stat().st_size for p in paths) / frames


def pipeline_run(metadata: Path, video_dir: Path, out_dir: Path, workers: int, *extra: str) -> tuple:
    """(frames decoded, seconds, run summary)."""
    started = time.perf_counter()
    summary = run_job.run([
        f"--metadata_csv={metadata}", f"--video_dir={video_dir}", f"--output_dir={out_dir}",
        "--model_complexity=1", "--min_frames=1", f"--direct_num_workers={workers}", *extra,
    ])
    return summary["frames_decoded"], time.perf_counter() - started, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="Keep the dataset here (reused if present); default: a temp folder.")
    parser.add_argument("--seconds", type=float, default=6.0, help="Length of each looped HD clip.")
    parser.add_argument("--copies", type=int, default=4, help="Copies of each source clip.")
    args = parser.parse_args(argv)
    configure_logging()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ghsl-bench-"))
    print(f"Building the HD dataset in {workdir} …", flush=True)
    metadata = hd_dataset.build(workdir / "data", seconds=args.seconds, copies=args.copies)
    video_dir = workdir / "data" / "videos"

    out = workdir / "out_pipeline"
    if out.exists():
        shutil.rmtree(out)  # a kept --workdir must not turn the full run into a re-run
    pipe_frames, pipe_seconds, _ = pipeline_run(metadata, video_dir, out, workers=2)
    loop_frames, loop_seconds = single_process_loop(metadata, video_dir, workdir / "out_loop")
    assert pipe_frames == loop_frames, (pipe_frames, loop_frames)
    _, rerun_seconds, rerun = pipeline_run(metadata, video_dir, out, workers=2)
    # Options changed, then changed back, three times: every one of these runs recomputes
    # features from the stored landmarks; the median of the changed runs is reported.
    change_times, decoded = [], 0
    for _ in range(3):
        _, seconds, changed = pipeline_run(metadata, video_dir, out, 2, *CHANGED_OPTIONS)
        change_times.append(seconds)
        decoded += changed["videos_decoded"]
        decoded += pipeline_run(metadata, video_dir, out, 2)[2]["videos_decoded"]
    change_seconds = statistics.median(change_times)
    recompute_ms, pose_bytes_per_frame = recompute_alone(out / "landmarks")

    pipe_fps, loop_fps = pipe_frames / pipe_seconds, loop_frames / loop_seconds
    ratio = pipe_fps / loop_fps
    print()
    print(f"dataset: {pipe_frames} frames at 1920x1080 in {len(list(video_dir.glob('*.mp4')))} videos")
    print(f"single-process loop: {loop_fps:6.1f} frames/s ({loop_seconds:.1f}s)")
    print(f"pipeline, 2 threads: {pipe_fps:6.1f} frames/s ({pipe_seconds:.1f}s)")
    no_op = rerun_seconds / pipe_seconds
    no_op_ok = no_op <= NO_OP_GOAL and rerun["videos_decoded"] == 0
    print(f"no-op re-run: {rerun['videos_decoded']} videos decoded, {rerun['videos_reused']} reused, "
          f"{rerun_seconds:.1f}s = {no_op:.0%} of the full run (goal <= {NO_OP_GOAL:.0%}, 0 decoded) "
          f"{'OK' if no_op_ok else 'BELOW GOAL'}")
    change = change_seconds / pipe_seconds
    change_ok = change <= OPTION_CHANGE_GOAL and decoded == 0
    print(f"landmarks: {pose_bytes_per_frame:.0f} bytes per frame in .pose files")
    print(f"option change ({' '.join(CHANGED_OPTIONS)}) and back, 3 times: {decoded} videos decoded, "
          f"{changed['videos_recomputed']} recomputed from landmarks; recompute alone {recompute_ms:.1f} ms per video")
    print(f"option-change re-run (median of 3): {change_seconds:.1f}s vs full run {pipe_seconds:.1f}s = {change:.0%} "
          f"(goal <= {OPTION_CHANGE_GOAL:.0%}, 0 decoded) {'OK' if change_ok else 'BELOW GOAL'}")
    print(f"speed-up pipeline/loop: {ratio:.2f}x (goal >= {GOAL}x) {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
