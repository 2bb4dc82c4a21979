"""What a run costs apart from its videos, at scale: `python -m bench.bookkeeping [--rows 100000] [--store 10000]`.

Three figures, each in a fresh interpreter (wall from outside, peak RSS of the run's process):

  1. missing     a metadata file of --rows rows whose videos are all missing (nothing decoded,
                 --max_missing_fraction=1): reading, pairing, deciding and reporting every row;
  2. no-op       a re-run over a store of --store saved clips (synthetic records, landmarks and
                 features written as a run writes them, so every clip is reused as a saved clip,
                 each with a duplicate signature of a synthetic movement, a tenth of them copies):
                 nothing decoded, read or summed, the duplicate audit's links reused, the release
                 found; the run before it (which indexes the store, runs the audit's search and
                 builds the release) is timed too;
  3. requests    the requests of a no-op re-run over --bucket_rows synthetic clips in a bucket (the GCS
                 emulator behind the counting proxy): whole-run objects and listing pages only;
  4. job size    the Dataflow job built offline (--dry_run) for 100 rows and for --rows rows: the
                 graph must not grow with the rows (the job reads them itself).

Goals (issue "Beam's own shape"): 1 and 2 each at most 60 s and 700 MB peak RSS; 3 at most 25
requests for 1,200 rows; 4 within 10 KB.
Memory is the largest RSS any process of the run reached (ru_maxrss of the children).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_SECONDS = 60.0
GOAL_MB = 700.0
SIZE_GOAL = 10 * 1024
REQUEST_GOAL = 25
LANDMARK_OPTIONS = ["--model_complexity=1", "--min_detection_confidence=0.5", "--min_tracking_confidence=0.5"]


def timed(argv, env=None) -> tuple:
    """(wall seconds, peak RSS MB, stdout+stderr) of `python -m pipeline.run argv` in its own process tree."""
    code = ("import resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "w = time.perf_counter() - t\n"
            "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            "print(f'{p.returncode} {w:.3f} {r:.1f}'); sys.stderr.write(p.stdout + p.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "pipeline.run", *argv],
                          capture_output=True, text=True, env=env)
    code_, wall, rss = done.stdout.split()
    if int(code_):
        raise RuntimeError(f"pipeline.run exited {code_}:\n{done.stderr[-3000:]}")
    return float(wall), float(rss), done.stderr


def metadata(path: Path, rows: int) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_file", "sentence_id", "sentence", "category", "signer"])
        for i in range(rows):
            writer.writerow([f"signer{i % 5}/clip_{i:07d}.mp4", str(i), f"Sentence number {i}.", f"category {i % 9}",
                             f"signer{i % 5}"])
    return path


def all_missing(root: Path, rows: int) -> tuple:
    videos = root / "videos"
    videos.mkdir()
    return timed([f"--metadata_csv={metadata(root / 'm.csv', rows)}", f"--video_dir={videos}",
                  f"--output_dir={root / 'out'}", "--max_missing_fraction=1", *LANDMARK_OPTIONS])


def synthetic_signatures(clips: int, seed: int = 0) -> list:
    """A stored duplicate signature per clip (transforms/duplicates/signature.py), as bench/duplicates.py makes
    them: smooth random movements, a tenth of them copies of an earlier clip (re-sampled, trimmed, some
    mirrored), so that the audit searches as it would over real clips and finds families."""
    from bench import duplicates as synthetic
    from transforms.duplicates import signature

    rng = np.random.default_rng(seed)
    originals, found = [], []
    for _ in range(clips):
        if originals and rng.random() < synthetic.COPY_SHARE:
            xy, fps = synthetic.copy_tracks(rng, originals[int(rng.integers(len(originals)))])
        else:
            originals.append(synthetic.Original(rng))
            xy, fps = synthetic.original_tracks(rng, originals[-1])
        found.append(signature.encode(signature.from_tracks(
            xy, np.ones(xy.shape[:2], bool), np.ones(signature.POINTS, np.float32), fps)))
    return found


def synthetic_store(root: Path, clips: int, videos: str = "", out: str = "") -> list:
    """A store as a finished run leaves it: a video, .pose, .npy and record per clip, every record current
    with today's fingerprints and naming its files as the store lists them (so the next run reuses them all
    as saved clips, and builds their release), each with a realistic duplicate signature. videos, out:
    folders (local or gs://; default: under root). Returns the run's arguments."""
    from pipeline.options import GhslOptions, feature_config, landmark_config
    from apache_beam.options.pipeline_options import PipelineOptions
    from transforms.common import storage
    from transforms.common.moments import moments_of
    from transforms.features import registry
    from transforms.duplicates import signature as dup_signature
    from transforms.store import records
    from transforms.store.paths import feature_path, landmark_path, record_path
    from transforms.store.reuse import fingerprints

    videos, out = videos or str(root / "videos"), out or str(root / "out")
    argv = [f"--metadata_csv={metadata(root / 'm.csv', clips)}", f"--video_dir={videos}", f"--output_dir={out}",
            *LANDMARK_OPTIONS, "--min_frames=2"]
    opts = PipelineOptions(argv).view_as(GhslOptions)
    feature_options = feature_config(opts)
    made_by = fingerprints(landmark_config(opts), feature_options)
    columns = registry.of(feature_options).dim(feature_options)
    stems = [f"signer{i % 5}/clip_{i:07d}" for i in range(clips)]
    for i, stem in enumerate(stems):
        storage.write_bytes(storage.join(videos, f"{stem}.mp4"), b"video %d" % i)
    listed = storage.list_objects(videos)
    rng = np.random.default_rng(0)
    signatures = synthetic_signatures(clips)
    for i, stem in enumerate(stems):
        features = rng.normal(size=(4, columns)).astype(np.float32)
        pose = b"not a real pose file: the no-op run never reads it %d" % i
        pose_written = storage.write_bytes(landmark_path(out, stem), pose)
        npy = storage.npy_bytes(features)
        npy_written = storage.write_bytes(feature_path(out, stem), npy)
        record = {"format": records.FORMAT, "video_file": f"{stem}.mp4",
                  "source": records.source_identity(listed[f"{stem}.mp4"]),
                  "landmarks": {"fingerprint": made_by.landmarks, "sha256": hashlib.sha256(pose).hexdigest(),
                                "size": len(pose), "frames": 4, "stored": storage.identity(pose_written)},
                  "features": records.features_identity(npy, features, npy_written),
                  "signature": {"format": dup_signature.FORMAT, "data": signatures[i]},
                  "fingerprint": made_by.features, "status": "success", "error": "",
                  "frames_decoded": 4, "num_frames": 4, "frame_feature_dim": columns, "detection_ratio": 1.0,
                  "mean_visibility": 0.9, "motion_mean": 0.5, "motion_p50": 0.5, "motion_p95": 0.9, "motion_max": 1.0,
                  "kept_low": False, "source_fps": 30.0, "trimmed_start": 0, "trimmed_end": 0,
                  "dominant_hand": "right", "dominant_hand_reason": "", "mirrored": False,
                  "moments": records.moments_json(moments_of(features))}
        storage.write_text(record_path(out, stem), records.to_json(record))
    return argv


def no_op_requests(root: Path, rows: int) -> tuple:
    """(requests, by kind) of a re-run with nothing to do over a store of `rows` clips in a bucket (the GCS
    emulator behind bench/gcs_proxy.py's counting proxy)."""
    from bench import gcs_emulator
    from bench.bucket_requests import emulator_env
    from bench.gcs_proxy import CountingProxy

    bucket = "ghsl-bench"
    emulator, host = gcs_emulator.start(bucket, root / "emulator.log")
    proxy = CountingProxy(host).start()
    env = emulator_env(proxy.url, root)
    try:
        with gcs_emulator.environ(env):
            run_args = synthetic_store(root, rows, f"gs://{bucket}/videos", f"gs://{bucket}/out")
            timed(run_args, env={**os.environ})   # indexes the store, builds its release
            proxy.take()
            timed(run_args, env={**os.environ})
            counts = proxy.take()
    finally:
        proxy.stop()
        emulator.terminate()
        emulator.wait(timeout=10)
    return sum(counts.values()), counts


def job_size(root: Path, rows: int) -> int:
    """Bytes of the Dataflow job's pipeline proto, built offline for `rows` rows whose videos are missing."""
    code = ("import sys\n"
            "from unittest import mock\n"
            "from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner\n"
            "from pipeline import run\n"
            "kept = {}\n"
            "real = DataflowRunner.run_pipeline\n"
            "def keep(self, pipeline, options):\n"
            "    result = real(self, pipeline, options); kept['job'] = result.job; return result\n"
            "with mock.patch.object(DataflowRunner, 'run_pipeline', keep):\n"
            "    assert run.main(sys.argv[1:]) == 0\n"
            "print('SIZE', len(kept['job'].proto_pipeline.SerializeToString()))\n")
    folder = root / f"size-{rows}"
    folder.mkdir()
    (folder / "videos").mkdir()
    argv = [f"--metadata_csv={metadata(folder / 'm.csv', rows)}", f"--video_dir={folder / 'videos'}",
            f"--output_dir={folder / 'out'}", "--max_missing_fraction=1", "--runner=DataflowRunner", "--dry_run=True",
            "--project=ghsl-bench-123456", "--region=us-central1", "--temp_location=gs://ghsl-bench/temp",
            "--sdk_container_image=us-docker.pkg.dev/ghsl-bench-123456/ghsl/ghsl:bench", "--model_complexity=2"]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    found = [line for line in done.stdout.splitlines() if line.startswith("SIZE ")]
    if not found:
        raise RuntimeError(f"the dry run failed:\n{done.stderr[-3000:]}")
    return int(found[0].split()[1])


def verdict(wall: float, rss: float) -> str:
    return "OK" if wall <= GOAL_SECONDS and rss <= GOAL_MB else "OVER"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", type=int, default=10_000)
    parser.add_argument("--bucket_rows", type=int, default=1_200)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ghsl-bookkeeping-"))
    try:
        (root / "missing").mkdir()
        wall, rss, _ = all_missing(root / "missing", args.rows)
        print(f"bookkeeping, {args.rows:,} rows all missing: {wall:.1f} s, peak RSS {rss:.0f} MB "
              f"(goal ≤ {GOAL_SECONDS:.0f} s, ≤ {GOAL_MB:.0f} MB): {verdict(wall, rss)}", flush=True)

        store = root / "store"
        store.mkdir()
        started = time.perf_counter()
        run_args = synthetic_store(store, args.store)
        made = time.perf_counter() - started
        wall1, rss1, _ = timed(run_args)
        wall2, rss2, output = timed(run_args)
        summary = json.loads((store / "out" / "proc" / "run_summary.json").read_text())
        print(f"store of {args.store:,} synthetic clips written in {made:.1f} s; the run that indexes it and builds "
              f"its release: {wall1:.1f} s, {rss1:.0f} MB", flush=True)
        print(f"no-op re-run over {args.store:,} clips: {wall2:.1f} s, peak RSS {rss2:.0f} MB, "
              f"decoded {summary['videos_decoded']}, reused {summary['videos_reused']} "
              f"(goal ≤ {GOAL_SECONDS:.0f} s, ≤ {GOAL_MB:.0f} MB): {verdict(wall2, rss2)}", flush=True)

        (root / "bucket").mkdir()
        requests, kinds = no_op_requests(root / "bucket", args.bucket_rows)
        print(f"no-op re-run over {args.bucket_rows:,} clips in a bucket: {requests} requests "
              f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))}; goal ≤ "
              f"{REQUEST_GOAL}): {'OK' if requests <= REQUEST_GOAL else 'OVER'}", flush=True)

        small, large = job_size(root, 100), job_size(root, args.rows)
        print(f"Dataflow job (offline): {small:,} bytes for 100 rows, {large:,} bytes for {args.rows:,} rows, "
              f"difference {large - small:+,} bytes (goal within ±{SIZE_GOAL:,}): "
              f"{'OK' if abs(large - small) <= SIZE_GOAL else 'OVER'}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
