"""`make bench`: what the dataset release costs a run.

`python -m bench.release [--seconds 6 --copies 4 | --count N] [--repeats 3]`

Builds the HD benchmark dataset (bench/hd_dataset.py, the set bench.run_bench uses), runs the
pipeline on it once in full with --release=false (every video decoded: the reference wall time),
then, `--repeats` rounds, alternates three no-op re-runs (every video reused), each in a fresh
interpreter timed from outside (bench/timing.py):

  A  --release=false                  no release step
  B  the release already exists       the step finds it: its own cost is B - A (goal < 1 s)
  C  a new --split_seed every round   a release built from scratch: C - A (goal <= 5% of the full run)

and prints the medians of the per-round differences. A no-op re-run decodes nothing, so the
differences are the release step itself; alternating spreads load drifts over all three.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import hd_dataset
from bench.timing import alternate, median, pipeline_command, timed

NO_OP_GOAL_S = 1.0
BUILD_GOAL = 0.05


def rerun_command(metadata: Path, video_dir: Path, out: Path, *extra: str):
    """A re-run that reuses every video (pipeline_command without --reprocess=all)."""
    return [a for a in pipeline_command(metadata, video_dir, out, "--min_frames=1", *extra) if a != "--reprocess=all"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="Keep the dataset here (reused if present); default: a temp folder.")
    parser.add_argument("--seconds", type=float, default=6.0, help="Length of each looped HD clip.")
    parser.add_argument("--copies", type=int, default=4, help="Copies of each source clip.")
    parser.add_argument("--count", type=int, help="Only this many videos (a smoke run).")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ghsl-bench-release-"))
    print(f"Building the HD dataset in {workdir} …", flush=True)
    metadata = hd_dataset.build(workdir / "data", seconds=args.seconds, copies=args.copies, count=args.count)
    videos = workdir / "data" / "videos"
    out = workdir / "out"
    if out.exists():
        shutil.rmtree(out)  # a kept --workdir must not turn the full run into a re-run

    full = timed(pipeline_command(metadata, videos, out, "--min_frames=1", "--release=false"))
    print(f"  full run: {full.wall:.1f}s wall", flush=True)
    timed(rerun_command(metadata, videos, out))  # the release the rounds' B finds
    seeds = iter(range(1, args.repeats + 1))
    runs = alternate({
        "A: no release step": lambda: timed(rerun_command(metadata, videos, out, "--release=false")),
        "B: release exists": lambda: timed(rerun_command(metadata, videos, out)),
        "C: new release": lambda: timed(rerun_command(metadata, videos, out, f"--split_seed={next(seeds)}")),
    }, args.repeats)
    a, b, c = (runs[name] for name in runs)
    no_op = median(x.wall - y.wall for x, y in zip(b, a))
    build = median(x.wall - y.wall for x, y in zip(c, a))

    print()
    videos_listed = len(metadata.read_text().splitlines()) - 1
    print(f"dataset: {videos_listed} HD videos; full run {full.wall:.1f}s; "
          f"no-op re-run without release (median) {median(r.wall for r in a):.1f}s")
    print(f"release step on a no-op re-run: {no_op:+.2f}s (median of {args.repeats}; goal < {NO_OP_GOAL_S:.0f} s) "
          f"{'OK' if no_op < NO_OP_GOAL_S else 'ABOVE GOAL'}")
    print(f"release built from scratch: {build:+.2f}s = {build / full.wall:.1%} of the full run "
          f"(goal <= {BUILD_GOAL:.0%}) {'OK' if build <= BUILD_GOAL * full.wall else 'ABOVE GOAL'}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
