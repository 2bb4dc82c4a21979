"""Timing whole runs as a user sees them: a fresh interpreter per run, wall time from outside.

Shared by the start-up benchmarks (bench.fixed_cost, bench.vs_pool). Each run is a
subprocess so that nothing one run imported or built is reused by the next, and
the clock includes the interpreter start and every import, as on a laptop.
"""
from __future__ import annotations

import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

# The landmark options every bench extracts with, the pipeline runs as pipeline_command's
# --model_complexity=1 and the peers alike: the pose model that ships with mediapipe, Holistic's own settings.
LANDMARKS = dict(model_complexity=1, min_detection_confidence=0.5, min_tracking_confidence=0.5,
                 refine_face_landmarks=False, smooth_landmarks=True)

# A progress line: "[1/6] success       180 frames    9.8s  clip.mp4"
_PROGRESS = re.compile(r"\[\d+/\d+\]\s+\S+\s+\d+ frames\s+([\d.]+)s")


class Run:
    """One timed subprocess: its wall time, the seconds each video took (from its progress lines),
    and the CPU time of the run and of every process it started (a figure other load barely moves)."""

    def __init__(self, wall: float, cpu: float, video_seconds: List[float], output: str):
        self.wall = wall
        self.cpu = cpu
        self.video_seconds = video_seconds
        self.output = output


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Sequence[str]) -> Run:
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    output = done.stdout + done.stderr
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{output[-3000:]}")
    return Run(wall, cpu, [float(s) for s in _PROGRESS.findall(output)], output)


def pipeline_command(metadata: Path, video_dir: Path, out_dir: Path, *extra: str) -> List[str]:
    """A full local run (every video decoded again), with the job's own local defaults; --verbose prints each
    video's line (the seconds it took), which the benches read."""
    return ["-m", "pipeline.run", f"--metadata_csv={metadata}", f"--video_dir={video_dir}",
            f"--output_dir={out_dir}", "--model_complexity=1", "--reprocess=all", "--verbose", *extra]


def alternate(runs: Dict[str, Callable[[], Run]], repeats: int) -> Dict[str, List[Run]]:
    """Every variant once per round, rounds repeated: A, B, A, B, … so load drifts hit all alike."""
    results: Dict[str, List[Run]] = {name: [] for name in runs}
    for round_ in range(repeats):
        for name, run in runs.items():
            result = run()
            results[name].append(result)
            print(f"  round {round_ + 1}: {name:<26} {result.wall:6.1f}s wall, {result.cpu:6.1f}s CPU", flush=True)
    return results


def median(values) -> float:
    return statistics.median(values)
