"""Worker memory: what one Holistic and one worker process running the DoFn cost.

`python -m bench.worker_memory [--threads 1 2 4] [--clips GLOB]` (about a minute on 2 cores)

Each measurement runs in a fresh Python process, so nothing one measurement
loaded is counted in the next. Figures are resident set sizes in MiB, read from
/proc/self/status: VmRSS now and VmHWM (the peak since the process started).

- interpreter: Python with Beam, OpenCV and MediaPipe imported, no model yet.
- one Holistic (complexity 1): after building it, and the peak while it runs
  over one real clip.
- worker: the whole job on the DirectRunner inside one process with N worker
  threads, like a Dataflow SDK worker process with N harness threads: one
  ProcessVideos (one Holistic) per thread, over N copies of the real clips. Its peak is
  what one SDK process needs; the DirectRunner's own bookkeeping makes it a
  slight overestimate.

The per-thread cost is the difference between the worker peaks for N and N-1
threads; it is what each extra harness thread adds on a Dataflow worker.

- local run: the job as `python -m pipeline.run` runs it here (one video per core, each in
  an extraction process, transforms/landmarks/extractor_process.py) over two copies of the
  clips: the peak of the run's own process and of its largest extraction process (read from
  getrusage once they have ended). pipeline/preflight.py's local limit rests on these two.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.memory import own_memory_mib
from bench.timing import LANDMARKS

SHARED = Path(os.environ.get("GHSL_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
CLIPS = str(SHARED / "data" / "sign_clips" / "*.mp4")
MODEL_COMPLEXITY = 1


def measure_holistic(clip: str) -> dict:
    """Runs in a child process: imports, one Holistic, one clip."""
    from transforms.landmarks.native_logs import quiet_native_logs
    quiet_native_logs()
    import apache_beam  # noqa: F401  (a worker has Beam loaded too)
    import cv2  # noqa: F401
    import mediapipe  # noqa: F401
    from transforms.landmarks import pose_file
    from transforms.landmarks.holistic import HolisticExtractor

    figures = {"interpreter": own_memory_mib()["VmRSS"]}
    extractor = HolisticExtractor(**{**LANDMARKS, "model_complexity": MODEL_COMPLEXITY})
    figures["holistic_built"] = own_memory_mib()["VmRSS"]
    frames = pose_file.frame_count(extractor.extract(clip))
    after = own_memory_mib()
    figures.update(holistic_after_clip=after["VmRSS"], holistic_peak=after["VmHWM"], frames=frames)
    extractor.close()
    return figures


def _copies(scratch: str, clips: list, copies: int):
    """(metadata path, video folder) of `copies` copies of every clip under distinct names, in `scratch`."""
    import shutil

    videos = os.path.join(scratch, "videos")
    os.mkdir(videos)
    metadata = os.path.join(scratch, "metadata.csv")
    with open(metadata, "w", encoding="utf-8") as handle:
        handle.write("video_file,sentence_id,sentence,category\n")
        for copy in range(copies):
            for i, clip in enumerate(clips):
                name = f"{copy}_{os.path.basename(clip)}"
                shutil.copyfile(clip, os.path.join(videos, name))
                handle.write(f"{name},{copy * len(clips) + i},clip {i},bench\n")
    return metadata, videos


def measure_worker(threads: int, clips: list) -> dict:
    """Runs in a child process: the whole job on the DirectRunner in this one process, with
    `threads` worker threads (one ProcessVideos instance each, as on a Dataflow SDK worker)."""
    import tempfile

    from pipeline import run

    with tempfile.TemporaryDirectory(prefix="ghsl-worker-memory-") as scratch:
        # Every clip once per thread, under distinct names, so that every thread
        # builds its Holistic and works (Holistic is built on a DoFn's first video).
        metadata, videos = _copies(scratch, clips, threads)
        before = own_memory_mib()["VmRSS"]
        run.configure_logging()
        summary = run.run([f"--metadata_csv={metadata}", f"--video_dir={videos}",
                           f"--output_dir={os.path.join(scratch, 'out')}",
                           f"--model_complexity={MODEL_COMPLEXITY}", "--reprocess=all",
                           "--direct_running_mode=multi_threading", f"--direct_num_workers={threads}"])
    after = own_memory_mib()
    return {"threads": threads, "before": before, "after_clips": after["VmRSS"], "peak": after["VmHWM"],
            "videos": len(clips) * threads, "frames": summary["frames_decoded"]}


def measure_local(clips: list) -> dict:
    """Runs in a child process: the job with the local defaults; this process's peak and its children's."""
    import resource
    import tempfile

    from pipeline import run

    with tempfile.TemporaryDirectory(prefix="ghsl-local-memory-") as scratch:
        metadata, videos = _copies(scratch, clips, 2)
        run.configure_logging()
        summary = run.run([f"--metadata_csv={metadata}", f"--video_dir={videos}",
                           f"--output_dir={os.path.join(scratch, 'out')}",
                           f"--model_complexity={MODEL_COMPLEXITY}", "--reprocess=all"])
    # ru_maxrss is in KiB on Linux: the largest of the ended children, the extraction processes.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"run_peak": own_memory_mib()["VmHWM"], "extraction_peak": children, "videos": 2 * len(clips),
            "frames": summary["frames_decoded"]}


def _child(kind: str, args: list) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.worker_memory", "--child", kind, *args],
                         capture_output=True, text=True)
    if out.returncode != 0:  # say why: the child's own error, not only its exit status
        raise SystemExit(f"bench.worker_memory --child {kind} {' '.join(args)} exited {out.returncode}:\n"
                         f"{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=CLIPS, help="Glob of real clips to run over.")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4],
                        help="Harness thread counts to measure the worker process at.")
    parser.add_argument("--child", choices=("holistic", "worker", "local"), help=argparse.SUPPRESS)
    parser.add_argument("--child_threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    clips = sorted(glob.glob(args.clips))
    if not clips:
        print(f"error: no clips match {args.clips}", file=sys.stderr)
        return 2

    if args.child == "holistic":
        print(json.dumps(measure_holistic(max(clips, key=os.path.getsize))))
        return 0
    if args.child == "worker":
        print(json.dumps(measure_worker(args.child_threads, clips)))
        return 0
    if args.child == "local":
        print(json.dumps(measure_local(clips)))
        return 0

    one = _child("holistic", ["--clips", args.clips])
    print(f"MediaPipe Holistic, model_complexity={MODEL_COMPLEXITY}, RSS in MiB")
    print(f"  interpreter with Beam, OpenCV, MediaPipe imported  {one['interpreter']:7.0f}")
    print(f"  + one Holistic built                               {one['holistic_built']:7.0f}"
          f"  (+{one['holistic_built'] - one['interpreter']:.0f})")
    print(f"  after one clip ({one['frames']} frames)                      {one['holistic_after_clip']:7.0f}"
          f"  peak {one['holistic_peak']:.0f}")
    print(f"Worker process running the job over {len(clips)} real clips, one ProcessVideos per thread")
    previous = None
    for threads in sorted(args.threads):
        w = _child("worker", ["--clips", args.clips, "--child_threads", str(threads)])
        extra = ""
        if previous is not None:
            extra = f"  (+{(w['peak'] - previous['peak']) / (threads - previous['threads']):.0f} per extra thread)"
        print(f"  {threads} thread(s): before the job {w['before']:6.0f}, after {w['videos']} videos "
              f"({w['frames']} frames) {w['after_clips']:6.0f}, peak {w['peak']:6.0f}{extra}")
        previous = w
    local = _child("local", ["--clips", args.clips])
    print(f"Local run (the defaults: one video per core, each in an extraction process), {local['videos']} videos "
          f"({local['frames']} frames)")
    print(f"  the run's own process: peak {local['run_peak']:6.0f}; largest extraction process: peak "
          f"{local['extraction_peak']:6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
