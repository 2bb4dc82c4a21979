"""The steps of the sentence-variations job that are not Gemini's: which sentences to ask, and the CSVs.

The job itself is pipeline/graph.py's `build_text`: the CSV's distinct sentences →
the cache (SplitByCache) → Gemini for the rest (ask_gemini.AskGemini) → the CSV with
text_variations and augment_failed.csv (write_outputs).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.common import storage
from transforms.text import variations_cache, variations_csv
from transforms.text.ask_gemini import FAILED

CACHE_JSON = "sentence_variations.json"
FAILED_CSV = "augment_failed.csv"
CACHED = "cached"
TO_ASK = "to_ask"
COUNTERS = ("sentences_cached", "gemini_requests", "gemini_key_rotations", "sentences_answered",
            "sentences_answered_wrong", "sentences_failed")


class SplitByCache(beam.DoFn):
    """(sentence_id, sentences) → cached answer, sentence to ask, or a failure that asking cannot fix."""

    def __init__(self, variations: int):
        self.variations = variations
        self.cached = Metrics.counter("ghsl", "sentences_cached")

    def process(self, grouped, cache):
        sid, sentences = grouped
        sentences = sorted(set(sentences))
        if len(sentences) > 1:
            for sentence in sentences:
                yield beam.pvalue.TaggedOutput(FAILED, (sid, sentence, (
                    f"sentence_id {sid!r} is used for {len(sentences)} different sentences; give each "
                    f"sentence its own id")))
            return
        sentence = sentences[0]
        if not sid.strip() or not sentence.strip():
            yield beam.pvalue.TaggedOutput(FAILED, (sid, sentence, "empty sentence_id or sentence"))
            return
        found = variations_cache.lookup(cache, sid, sentence, self.variations)
        if found:
            self.cached.inc()
            yield beam.pvalue.TaggedOutput(CACHED, (sid, found))
        else:
            yield sid, sentence


def write_outputs(rows, answers, failures, *, input_csv: str, output_csv: str, failed_csv: str) -> int:
    header, _ = variations_csv.read(input_csv)
    Metrics.counter("ghsl", "sentences_failed").inc(len(failures))
    storage.write_text(failed_csv, variations_csv.failed_text(failures))
    # Written last: the column appears only when the cache and the failure list are complete.
    storage.write_text(output_csv, variations_csv.with_variations(header, rows, answers))
    return len(rows)
