"""Requests that sentence variations cost: `python -m bench.bench_augment [--sentences 200] [--per_request 10]`.

Runs pipeline.augment_text twice over a processed_metadata.csv holding
`--sentences` distinct sentences (each signed twice), against
bench/gemini_server.py answering well, through the real SDK and RunInference.
The server counts what reaches it. Budget: at most ceil(sentences / per
request) + 5 requests on the first run (the issue: 25 for 200 at 10), none on
the second (everything comes from the cache). The last line is requests per
sentence.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
import time

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.logs import configure_logging
from pipeline import augment_text
from bench.gemini_server import GeminiServer

KEY = "bench-key"


def write_csv(path: str, sentences: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_file", "feature_path", "num_frames", "sentence_id", "sentence", "category",
                         "quality_flag"])
        for signer in range(2):
            for i in range(sentences):
                writer.writerow([f"signer{signer}/{i}.mp4", f"pose_data/signer{signer}/{i}.npy", 60, f"S{i:04d}",
                                 f"GhSL sentence number {i}", "daily", ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--per_request", type=int, default=10)
    args = parser.parse_args(argv)
    configure_logging()

    with tempfile.TemporaryDirectory() as tmp, GeminiServer(keys={KEY}) as server:
        os.environ["GOOGLE_GEMINI_BASE_URL"] = server.base_url
        os.environ["GEMINI_API_KEY"] = KEY
        os.environ.pop("GEMINI_API_KEYS", None)
        path = os.path.join(tmp, "proc", "processed_metadata.csv")
        os.makedirs(os.path.dirname(path))
        write_csv(path, args.sentences)
        options = PipelineOptions([f"--sentences_per_request={args.per_request}"])

        counts = []
        for label in ("first run", "second run"):
            before, started = len(server.requests), time.perf_counter()
            augment_text.augment(path, options)
            counts.append(len(server.requests) - before)
            print(f"{label}: {counts[-1]} requests in {time.perf_counter() - started:.1f}s", flush=True)

    budget = math.ceil(args.sentences / args.per_request) + 5
    ok = counts[0] <= budget and counts[1] == 0
    print(f"budget: first run <= {budget}, second run 0 -> {'OK' if ok else 'OVER BUDGET'}")
    print(f"requests per sentence: {counts[0] / args.sentences:.3f} (first run), "
          f"{counts[1] / args.sentences:.3f} (second run)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
