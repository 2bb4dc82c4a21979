"""`make bench`: a local run of a handful of HD clips against a plain multiprocessing.Pool(2).

`python -m bench.vs_pool [--workdir DIR] [--clips 6] [--repeats 3]`

Both sides start a fresh interpreter and run the same extraction code on the
same HD clips (bench.hd_dataset: the real clips upscaled to 1080p, looped to
6 s): the pipeline with its local defaults (two videos at once on two cores), and
bench.pool_loop, the old notebook's Pool(2). Runs alternate (pipeline, pool,
pipeline, pool, …) so that load from anything else on the machine hits both
alike; figures are medians. CPU time (of each run and every process it started)
is printed too: other load barely moves it. The pipeline's fixed cost here is its wall time
minus the time its two extraction threads spent inside videos (their sum over two).
Printed last: pool time / pipeline time (goal >= 1.0: the pipeline is at least as fast).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import hd_dataset
from bench.timing import alternate, median, pipeline_command, timed

GOAL = 1.0
WORKERS = 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="Keep the dataset here (reused if present); default: a temp folder.")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0, help="Length of each looped HD clip.")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ghsl-bench-pool-"))
    print(f"Building {args.clips} HD clips in {workdir} …", flush=True)
    metadata = hd_dataset.build(workdir / "data", seconds=args.seconds, count=args.clips)
    videos = workdir / "data" / "videos"

    def fresh(name: str) -> Path:
        out = workdir / name
        shutil.rmtree(out, ignore_errors=True)
        return out

    results = alternate({
        "pipeline (local defaults)": lambda: timed(pipeline_command(metadata, videos, fresh("out_pipeline"))),
        f"multiprocessing.Pool({WORKERS})": lambda: timed([
            "-m", "bench.pool_loop", f"--metadata_csv={metadata}", f"--video_dir={videos}",
            f"--output_dir={fresh('out_pool')}", f"--workers={WORKERS}"]),
    }, args.repeats)
    pipeline_runs, pool_runs = results.values()
    for runs in results.values():
        assert all(len(r.video_seconds) == args.clips for r in runs), "a run did not report every video"

    pipeline_wall = median(r.wall for r in pipeline_runs)
    pool_wall = median(r.wall for r in pool_runs)
    fixed = median(r.wall - sum(r.video_seconds) / WORKERS for r in pipeline_runs)
    pool_fixed = median(r.wall - sum(r.video_seconds) / WORKERS for r in pool_runs)
    print()
    print(f"{args.clips} HD clips (1920x1080, {args.seconds:g} s each), medians of {args.repeats} alternated runs")
    print(f"  multiprocessing.Pool({WORKERS}): {pool_wall:6.1f}s wall, {median(r.cpu for r in pool_runs):6.1f}s CPU "
          f"(wall minus video time / {WORKERS}: {pool_fixed:.1f}s)")
    print(f"  pipeline:              {pipeline_wall:6.1f}s wall, {median(r.cpu for r in pipeline_runs):6.1f}s CPU "
          f"(fixed cost: {fixed:.1f}s)")
    ratio = pool_wall / pipeline_wall
    print(f"pool time / pipeline time: {ratio:.2f} (goal >= {GOAL:.1f}) {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
