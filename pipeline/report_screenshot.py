"""Regenerates docs/report.png, the picture of proc/report.html in docs/report.md.

`python -m pipeline.report_screenshot [--clips_dir=../shared/data/sign_clips] [--out=docs/report.png]`

Runs the pipeline on the real signing clips (plus a missing row and a broken
file, so every status shows), builds the report, screenshots it in headless
Chromium and shrinks the picture below MAX_BYTES. Videos are symlinked into a
temporary folder, never copied into the repository.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import List, Optional

from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image

from pipeline import browser
from pipeline import run as run_entry
from pipeline.options import GhslOptions
from pipeline.report import build_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS_DIR = os.path.join(os.path.dirname(ROOT), "shared", "data", "sign_clips")
# The clips' glosses as sentences; two rows that cannot be processed show the failure paths.
METADATA = """video_file,sentence_id,sentence,category
FOOTBALL.mp4,1,football,sport
SOUP.mp4,2,soup,food
sample_video.mp4,3,sample,examples
test_video.mp4,4,test,examples
not_recorded.mp4,5,not recorded,food
broken.mp4,6,broken file,sport
"""
PAGE_SIZE = (1280, 2560)
SCALE = 0.55
MAX_BYTES = 300_000


def regenerate(clips_dir: str = CLIPS_DIR, out: str = os.path.join(ROOT, "docs", "report.png")) -> str:
    with tempfile.TemporaryDirectory(prefix="ghsl-report-shot-") as tmp:
        videos = os.path.join(tmp, "videos")
        os.makedirs(videos)
        for name in ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4"):
            os.symlink(os.path.abspath(os.path.join(clips_dir, name)), os.path.join(videos, name))
        with open(os.path.join(videos, "broken.mp4"), "wb") as handle:
            handle.write(b"not a video")
        metadata = os.path.join(tmp, "metadata.csv")
        with open(metadata, "w") as handle:
            handle.write(METADATA)
        output_dir = os.path.join(tmp, "out")
        if run_entry.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={output_dir}",
                           "--model_complexity=1", "--min_frames=20"]) != 0:
            raise RuntimeError("the pipeline run failed; see its messages above")
        report = build_report(PipelineOptions([f"--output_dir={output_dir}", f"--video_dir={videos}"])
                              .view_as(GhslOptions))
        shot = browser.screenshot(report, os.path.join(tmp, "full.png"), *PAGE_SIZE)
        image = Image.open(shot).convert("RGB")
    small = image.resize((round(image.width * SCALE), round(image.height * SCALE)), Image.Resampling.LANCZOS)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    small.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, optimize=True)
    size = os.path.getsize(out)
    if size > MAX_BYTES:
        raise RuntimeError(f"{out} is {size} bytes, over {MAX_BYTES}: lower SCALE or PAGE_SIZE")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips_dir", default=CLIPS_DIR, help="Folder with the real signing clips.")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "report.png"))
    args = parser.parse_args(argv)
    if not os.path.isdir(args.clips_dir):
        print(f"error: no clips at {args.clips_dir}; pass --clips_dir", file=sys.stderr)
        return 2
    if browser.find_browser() is None:
        print(f"error: no headless browser; {browser.INSTALL_HINT}", file=sys.stderr)
        return 2
    print(f"Screenshot: {regenerate(args.clips_dir, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
