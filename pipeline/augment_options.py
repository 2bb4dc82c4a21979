"""Options of the sentence-variations job (pipeline.augment_text); defaults live here only."""
from __future__ import annotations

import os
from typing import List, Mapping

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.gemini_handler import KEY_ENV, KEYS_ENV, keys_from_environment


class AugmentConfigError(ValueError):
    """A mistake in how the job was configured; the message says how to fix it."""


class AugmentOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        io = parser.add_argument_group("sentence variations: inputs and outputs (local paths or gs:// URIs)")
        io.add_argument("--input_csv", help="processed_metadata.csv of a preprocessing run (needs sentence_id, "
                                            "sentence).")
        io.add_argument("--output_csv", default=None,
                        help="Where the CSV with text_variations goes; default: --input_csv itself, rewritten "
                             "in one step.")
        io.add_argument("--cache", default=None,
                        help="Variations cache; default: sentence_variations.json next to --input_csv.")

        g = parser.add_argument_group("Gemini")
        g.add_argument("--model", default="gemini-2.5-flash", help="Gemini model that writes the variations.")
        g.add_argument("--variations", type=int, default=5, help="Rephrasings per sentence (the original is "
                                                                  "added first).")
        g.add_argument("--sentences_per_request", type=int, default=10)
        g.add_argument("--requests_per_minute", type=int, default=60,
                       help="Limit on sends (retries and key rotations included) for the whole job.")
        g.add_argument("--request_timeout_s", type=float, default=120.0,
                       help="A request without an answer by then fails and is retried like a 5xx.")
        g.add_argument("--max_retries", type=int, default=5,
                       help="Retries with backoff after 429 (on every key), 5xx or timeout.")
        g.add_argument("--vertex_project", default=None,
                       help="Use Vertex AI in this project with the job's own credentials instead of API keys.")
        g.add_argument("--vertex_location", default="us-central1")
        g.add_argument("--api_key_secret", default=None,
                       help="Secret Manager version holding the key(s), k1,k2 "
                            "(projects/P/secrets/S/versions/latest); needed on remote runners, whose workers "
                            f"do not see this shell's {KEYS_ENV}.")


def credential_problems(opts: AugmentOptions, remote: bool, environ: Mapping[str, str] = os.environ) -> List[str]:
    if opts.vertex_project or opts.api_key_secret:
        return []
    if not keys_from_environment(environ):
        return [f"No Gemini credentials: set {KEY_ENV}=… (or {KEYS_ENV}=k1,k2 to rotate keys on 429), or pass "
                f"--vertex_project=PROJECT [--vertex_location=REGION] to use Vertex AI with this account's "
                f"credentials."]
    if remote:
        return [f"{KEYS_ENV}/{KEY_ENV} are only seen by local runs: remote workers do not get this shell's "
                f"environment. Store the key(s) in Secret Manager and pass --api_key_secret="
                f"projects/P/secrets/S/versions/latest, or use --vertex_project."]
    return []


def option_problems(opts: AugmentOptions) -> List[str]:
    """Mistakes in the numbers, each with how to fix it; empty when they are usable."""
    problems = []
    for name in ("variations", "sentences_per_request", "requests_per_minute"):
        if getattr(opts, name) < 1:
            problems.append(f"--{name} must be 1 or more.")
    if opts.max_retries < 0:
        problems.append("--max_retries must not be negative.")
    if opts.request_timeout_s <= 0:
        problems.append("--request_timeout_s must be positive.")
    return problems
