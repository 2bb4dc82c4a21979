"""`make bench`: requests to the bucket per metadata row, for the weekly re-run at bucket scale.

Videos, metadata and outputs on gs:// (the real GCS emulator), every request
through a proxy that counts it and holds it `--latency` seconds (30 ms: about
a laptop's or a launcher's round trip to a bucket). Three runs of
`python -m pipeline.run`, each in a fresh interpreter with the job's local
defaults: a full run, a re-run with nothing changed, and a re-run with
--min_frames changed. Prints requests per row by kind and wall times, then the
goals: no-op ≤ 0.1 requests per row and ≤ 15% of the full run's wall time; full
run ≤ 6 requests per video; the option change reads each .pose once and
decodes nothing.

The videos are copies of the real clips (short ones, so a full run of a few
hundred rows takes minutes): requests do not depend on what the clips show.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.hd_dataset import source_clips
from bench import gcs_emulator
from bench.gcs_proxy import CountingProxy

BUCKET = "ghsl-bench"
NO_OP_REQUESTS_PER_ROW = 0.1
NO_OP_WALL_SHARE = 0.15
FULL_REQUESTS_PER_VIDEO = 6


def emulator_env(host: str, workdir: Path) -> dict:
    """The emulator, a credential found at once, and no probe of a metadata server (as tests/conftest.py)."""
    return {**gcs_emulator.environment(host, workdir / "adc.json", "ghsl-bench"), "NO_GCE_CHECK": "true",
            "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}


def upload_dataset(rows: int, env: dict) -> None:
    """rows videos (the real clips in turn) and their metadata CSV, uploaded straight to the emulator."""
    with gcs_emulator.environ(env):
        from transforms.common import storage

        clips = [p for p in source_clips() if p.name != "FOOTBALL.mp4"]  # FOOTBALL is 522 frames: slow
        data = {clip.name: clip.read_bytes() for clip in clips}
        lines = [["video_file", "sentence_id", "sentence", "category"]]
        for i in range(rows):
            clip = clips[i % len(clips)]
            name = f"signer{i % 3}/{clip.stem}_{i:04d}{clip.suffix}"
            storage.write_bytes(f"gs://{BUCKET}/dataset/videos/{name}", data[clip.name])
            lines.append([name, str(i), f"Sentence {i}", f"category {i % 4}"])
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
            csv.writer(handle).writerows(lines)
        storage.write_bytes(f"gs://{BUCKET}/dataset/metadata.csv", Path(handle.name).read_bytes())
        os.unlink(handle.name)


def run_job(env: dict, *extra: str) -> tuple:
    """(wall seconds, run summary) of one `python -m pipeline.run` in a fresh interpreter."""
    argv = [sys.executable, "-m", "pipeline.run", f"--metadata_csv=gs://{BUCKET}/dataset/metadata.csv",
            f"--video_dir=gs://{BUCKET}/dataset/videos", f"--output_dir=gs://{BUCKET}/out",
            "--model_complexity=1", "--min_frames=5", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"pipeline.run exited {done.returncode}:\n{done.stderr[-3000:]}")
    summary_line = [line for line in done.stdout.splitlines() if line.startswith("GhSL preprocessing:")]
    return wall, summary_line[0] if summary_line else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.03, help="Seconds added to every request.")
    parser.add_argument("--show", action="store_true", help="List every request of the re-runs.")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ghsl-bucket-bench-"))
    emulator, host = gcs_emulator.start(BUCKET, workdir / "emulator.log")
    proxy = CountingProxy(host, latency=args.latency).start()
    try:
        upload_dataset(args.rows, emulator_env(host, workdir))
        env = emulator_env(proxy.url, workdir)
        print(f"{args.rows} rows on the GCS emulator, {args.latency * 1000:.0f} ms added to every request", flush=True)
        figures = {}
        for name, extra in (("full run", ()), ("re-run, nothing changed", ()),
                            ("re-run, --min_frames changed", ("--min_frames=6",))):
            proxy.take()
            wall, line = run_job(env, *extra)
            requests = list(proxy.requests)
            counts = proxy.take()
            figures[name] = (sum(counts.values()), wall, counts)
            print(f"  {name:<30} {sum(counts.values()):6d} requests  {sum(counts.values()) / args.rows:6.2f} per row  "
                  f"{wall:7.1f}s   {line}", flush=True)
            print("      " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])),
                  flush=True)
            if args.show and name != "full run":
                for kind, method, path in requests:
                    print(f"        {kind:<16} {method:<6} {path}")
    finally:
        proxy.stop()
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    full, no_op, change = (figures[k] for k in figures)
    per_row = no_op[0] / args.rows
    share = no_op[1] / full[1]
    print()
    print(f"no-op re-run: {per_row:.3f} requests per row (goal <= {NO_OP_REQUESTS_PER_ROW}) "
          f"{'OK' if per_row <= NO_OP_REQUESTS_PER_ROW else 'ABOVE GOAL'}; wall {share:.0%} of the full run's "
          f"(goal <= {NO_OP_WALL_SHARE:.0%}) {'OK' if share <= NO_OP_WALL_SHARE else 'ABOVE GOAL'}")
    full_per_video = full[0] / args.rows
    print(f"full run: {full_per_video:.2f} requests per video (goal <= {FULL_REQUESTS_PER_VIDEO}) "
          f"{'OK' if full_per_video <= FULL_REQUESTS_PER_VIDEO else 'ABOVE GOAL'}")
    downloads = change[2].get("download", 0)
    print(f"option-change re-run: {change[0] / args.rows:.2f} requests per row, {downloads} downloads for "
          f"{args.rows} .pose files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
