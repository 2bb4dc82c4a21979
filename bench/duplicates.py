"""The duplicate audit at scale: 10,000 and 100,000 synthetic clips with planted copies.

`python -m bench.duplicates [--clips N] [--seed 0]`

Without --clips, runs 10,000 and then 100,000 clips, each in a fresh interpreter so
that each size's peak memory is its own. Per size it prints: the signature's size,
the time signature.from_tracks takes per clip, the candidate search's time and
candidates per clip, the alignment's time, the resident memory before the audit (the
signatures) and its peak during it (candidate search, alignment and families), the
recall on the planted copies, the false links and the planted re-takes linked.

Synthetic clips, in the signature's units (shoulder spans about the shoulders'
midpoint), enter through `signature.from_tracks`, the code `signature()` runs after
reading a .pose:
  * an original: seven points (nose, shoulders, elbows, hands) at rest positions that
    vary per signer, moving along smooth random paths (new random knots every 0.3 s;
    the hands 0.35 shoulder spans, elbows 0.12, the head 0.04, the shoulders 0.015),
    45 to 240 frames (1.5 to 9.6 s) at 25 or 30 fps, with MediaPipe-like jitter of
    0.01 per frame;
  * a planted copy of an original: the same movement with fresh jitter (0.005–0.03)
    and a slow drift (0.01), 0–5 frames trimmed at each end, half of them at 15 or
    24 fps and a third mirrored (x negated, left and right exchanged);
  * a planted re-take of an original (a hard negative, never a copy): the same path
    signed again 5–15 % faster or slower with every point off by a smooth deviation of
    RETAKE_DEVIATION shoulder spans (about 3.6 cm) and fresh jitter. Re-takes linked
    are counted apart from false links.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from bench.memory import own_memory_mib, reset_peak
from transforms.duplicates import families, links, signature
from transforms.duplicates.alignment import align
from transforms.duplicates.candidates import candidate_pairs
from transforms.duplicates.settings import THRESHOLD

SIZES = (10_000, 100_000)
COPY_SHARE = 0.1
RETAKE_SHARE = 0.01
RETAKE_DEVIATION = 0.1
REST = np.array([[0, -0.65], [-0.5, 0], [0.5, 0], [-0.75, 0.8], [0.75, 0.8], [-0.45, 1.4], [0.45, 1.4]])
AMPLITUDE = np.array([0.04, 0.015, 0.015, 0.12, 0.12, 0.35, 0.35])
KNOT_SECONDS = 0.3
JITTER = 0.01


def smooth_path(rng, times: np.ndarray, duration: float, amplitude: float, knot_seconds: float = KNOT_SECONDS):
    """(len(times), POINTS, 2): a smooth random path per point, linear between random knots."""
    knots = np.linspace(0, duration, int(duration / knot_seconds) + 2)
    values = rng.normal(0, 1, (len(knots), signature.POINTS * 2))
    path = np.stack([np.interp(times, knots, values[:, c]) for c in range(values.shape[1])], axis=1)
    return path.reshape(len(times), signature.POINTS, 2) * amplitude


class Original:
    """The clean movement of one synthetic clip, to be sampled at any times (copies, re-takes)."""

    def __init__(self, rng):
        self.fps = float(rng.choice([25.0, 30.0]))
        self.frames = int(rng.integers(45, 241))
        self.duration = self.frames / self.fps
        self.knots = np.linspace(0, self.duration, int(self.duration / KNOT_SECONDS) + 2)
        hands = AMPLITUDE * np.r_[1, 1, 1, 1, 1, rng.uniform(0.3, 1.5, 2)]   # a quieter or livelier hand
        self.values = rng.normal(0, 1, (len(self.knots), signature.POINTS, 2)) * hands[None, :, None]
        self.rest = REST + rng.normal(0, 0.05, REST.shape)

    def at(self, times: np.ndarray) -> np.ndarray:
        flat = self.values.reshape(len(self.knots), -1)
        path = np.stack([np.interp(times, self.knots, flat[:, c]) for c in range(flat.shape[1])], axis=1)
        return self.rest + path.reshape(len(times), signature.POINTS, 2)


def original_tracks(rng, clip: Original):
    """(tracks, fps) of the clip as recorded."""
    times = np.arange(clip.frames) / clip.fps
    return clip.at(times) + rng.normal(0, JITTER, (clip.frames, signature.POINTS, 2)), clip.fps


def copy_tracks(rng, clip: Original):
    fps = float(rng.choice([clip.fps, clip.fps, 15.0, 24.0]))
    first, last = rng.integers(0, 6, 2)
    times = np.arange(int(clip.duration * fps)) / fps
    times = times[first:len(times) - last]
    xy = clip.at(times) + rng.normal(0, rng.uniform(0.005, 0.03), (len(times), signature.POINTS, 2))
    xy += smooth_path(rng, times, clip.duration, 0.01)
    if rng.random() < 1 / 3:
        xy = xy[:, signature.MIRROR] * np.array([-1.0, 1.0])
    return xy, fps


def retake_tracks(rng, clip: Original):
    tempo = 1 + rng.choice([-1, 1]) * rng.uniform(0.05, 0.15)
    frames = int(clip.frames * tempo)
    times = np.arange(frames) / clip.fps
    xy = clip.at(np.minimum(times / tempo, clip.duration))
    deviation = smooth_path(rng, times, times[-1] + 1 / clip.fps, 1.0, knot_seconds=1.0)
    deviation *= RETAKE_DEVIATION / np.sqrt((deviation ** 2).sum(axis=2).mean())
    return xy + deviation + rng.normal(0, JITTER, xy.shape), clip.fps


class Signing:
    """Turns tracks into signatures, stored straight into stacked arrays, and times signature.from_tracks alone."""

    def __init__(self, clips: int):
        self.stacked = signature.Signatures(np.zeros((clips, signature.SAMPLES, signature.POINTS, 2), np.float32),
                                            np.zeros((clips, signature.POINTS), np.float32), np.zeros(clips))
        self.seconds = 0.0
        self.example = None

    def put(self, slot: int, tracks) -> None:
        xy, fps = tracks
        started = time.perf_counter()
        sig = signature.from_tracks(xy, np.ones(xy.shape[:2], bool), np.ones(signature.POINTS, np.float32), fps)
        self.seconds += time.perf_counter() - started
        self.stacked.trajectory[slot], self.stacked.reliability[slot] = sig.trajectory, sig.reliability
        self.stacked.duration[slot] = sig.duration
        if self.example is None:
            self.example = sig


def run(clips: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    copies, retakes = int(clips * COPY_SHARE), int(clips * RETAKE_SHARE)
    originals = clips - copies - retakes
    print(f"{clips:,} clips: {originals:,} originals, {copies:,} planted copies, {retakes:,} planted re-takes",
          flush=True)

    # Clip k sits at slot[k]: the planted clips (k ≥ originals) anywhere among the others.
    slot = rng.permutation(clips)
    planted = rng.choice(originals, copies + retakes, replace=False)
    planted_of = {int(i): n for n, i in enumerate(planted)}
    signing = Signing(clips)
    for i in range(originals):
        clip = Original(rng)
        signing.put(slot[i], original_tracks(rng, clip))
        if i in planted_of:
            n = planted_of[i]
            signing.put(slot[originals + n], (copy_tracks if n < copies else retake_tracks)(rng, clip))
    stacked = signing.stacked
    names = [f"clip{k:06d}" for k in range(clips)]
    copy_pairs = {tuple(sorted((slot[i], slot[originals + n]))) for n, i in enumerate(planted[:copies])}
    retake_pairs = {tuple(sorted((slot[i], slot[originals + copies + n])))
                    for n, i in enumerate(planted[copies:])}
    print(f"  signature: {signature.BYTES} bytes ({len(signature.encode(signing.example))} base64 characters); "
          f"{signing.seconds / clips * 1e6:.0f} µs per clip from its tracks (signature.from_tracks)", flush=True)

    baseline = own_memory_mib()["VmRSS"]
    reset_peak()
    started = time.perf_counter()
    pairs = candidate_pairs(stacked)
    search = time.perf_counter() - started
    started = time.perf_counter()
    scores, _ = align(stacked, pairs.first, pairs.second, pairs.mirrored)
    alignment = time.perf_counter() - started
    started = time.perf_counter()
    linked = links.scored_links(names, pairs, scores, THRESHOLD)
    family_rows = families.duplicate_rows(linked, {name: name for name in names})
    rest = time.perf_counter() - started
    peak = own_memory_mib()["VmHWM"]

    index = {name: k for k, name in enumerate(names)}
    found = {tuple(sorted((index[l.first], index[l.second]))) for l in linked}
    candidate_set = set(zip(pairs.first.tolist(), pairs.second.tolist()))
    print(f"  candidate search: {search:.1f} s, {len(candidate_set):,} candidate pairs "
          f"({2 * len(candidate_set) / clips:.1f} per clip; {len(pairs):,} with orientations), "
          f"{len(copy_pairs & candidate_set):,} of {len(copy_pairs):,} planted copies among them", flush=True)
    print(f"  alignment: {alignment:.1f} s ({alignment / max(len(pairs), 1) * 1e6:.0f} µs per pair and orientation)")
    print(f"  links and families: {rest:.2f} s; {len(linked):,} links, {len(family_rows):,} copies reported")
    print(f"  recall on planted copies: {len(found & copy_pairs):,} of {len(copy_pairs):,} "
          f"({len(found & copy_pairs) / max(len(copy_pairs), 1):.2%})")
    print(f"  false links (not a planted copy): {len(found - copy_pairs - retake_pairs)}; planted re-takes "
          f"linked: {len(found & retake_pairs)} of {len(retake_pairs)}")
    print(f"  memory: {baseline:.0f} MiB resident before the audit (interpreter, NumPy, the signatures), "
          f"peak {peak:.0f} MiB during it", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, help="One size, in this process (default: each of 10,000 and 100,000 "
                                                  "in a fresh interpreter).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.clips:
        run(args.clips, args.seed)
        return 0
    for size in SIZES:
        subprocess.run([sys.executable, "-m", "bench.duplicates", f"--clips={size}", f"--seed={args.seed}"],
                       check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
