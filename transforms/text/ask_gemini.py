"""Requests of sentences → checked variations, through Beam's RunInference.

Input: lists of (sentence_id, sentence), one list per request. Outputs, tagged:
  answered   (sentence_id, [sentence, variation…])  passed every check
  ask_again  (sentence_id, sentence)                 the model got this id wrong
  failed     (sentence_id, sentence, error)          wrong on the last try, or the
                                                     request failed (after the handler's
                                                     retries, when the error allows them)
Every answered request is merged into the cache file at once, so a run killed
later keeps what it paid for.
"""
from __future__ import annotations

from typing import List, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import PredictionResult, RunInference

from transforms.text import sentence_variations as sv
from transforms.text import variations_cache

ANSWERED = "answered"
ASK_AGAIN = "ask_again"
FAILED = "failed"


class _CheckAnswers(beam.DoFn):
    def __init__(self, variations: int, cache_path: str, last_try: bool):
        self.variations = variations
        self.cache_path = cache_path
        self.last_try = last_try
        self.answered = Metrics.counter("ghsl", "sentences_answered")
        self.wrong = Metrics.counter("ghsl", "sentences_answered_wrong")

    def process(self, result: PredictionResult):
        pairs = result.example
        good, problems = sv.check_answer(result.inference, pairs, self.variations)
        if good:
            variations_cache.add(self.cache_path, good)
        self.answered.inc(len(good))
        self.wrong.inc(len(problems))
        for sid, variations in good.items():
            yield sid, variations
        for sid, sentence in pairs:
            if sid in problems:
                if self.last_try:
                    yield beam.pvalue.TaggedOutput(FAILED, (sid, sentence, problems[sid]))
                else:
                    yield beam.pvalue.TaggedOutput(ASK_AGAIN, (sid, sentence))


def _request_failures(failed: Tuple[List[List[sv.Pair]], tuple]):
    """RunInference's dead letter (batch, (type, repr, traceback)) → one failure per sentence."""
    batch, (_, exc_repr, _) = failed
    for pairs in batch:
        for sid, sentence in pairs:
            yield sid, sentence, f"request failed: {exc_repr}"


class AskGemini(beam.PTransform):
    def __init__(self, handler, variations: int, cache_path: str, last_try: bool):
        super().__init__()
        self.handler = handler
        self.variations = variations
        self.cache_path = cache_path
        self.last_try = last_try

    def expand(self, requests):
        # Failed requests (after the handler's retries) become rows of augment_failed.csv
        # instead of failing the job: one bad request must not cost every other answer.
        results, dead = requests | "Send" >> RunInference(self.handler).with_exception_handling()
        checked = results | "Check answers" >> beam.ParDo(
            _CheckAnswers(self.variations, self.cache_path, self.last_try)).with_outputs(
                ASK_AGAIN, FAILED, main=ANSWERED)
        request_failed = dead.failed_inferences | "Per sentence" >> beam.FlatMap(_request_failures)
        failed = (checked[FAILED], request_failed) | "All failed" >> beam.Flatten()
        return {ANSWERED: checked[ANSWERED], ASK_AGAIN: checked[ASK_AGAIN], FAILED: failed}
