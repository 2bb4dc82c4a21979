"""Checks of the sentence-variations options (declared with the others in pipeline/options.py)."""
from __future__ import annotations

import math
import os
from typing import List, Mapping

from pipeline.options import GhslOptions


class AugmentConfigError(ValueError):
    """A mistake in how the job was configured; the message says how to fix it."""


def credential_problems(opts: GhslOptions, remote: bool, environ: Mapping[str, str] = os.environ) -> List[str]:
    # Imported here: the handler pulls in google-genai (about half a second), which
    # pipeline.run would otherwise pay on every run just to name AugmentConfigError.
    from transforms.text.gemini_handler import KEY_ENV, KEYS_ENV, keys_from_environment

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


def option_problems(opts: GhslOptions) -> List[str]:
    """Mistakes in the numbers, each with how to fix it; empty when they are usable."""
    problems = []
    for name in ("variations", "sentences_per_request", "requests_per_minute"):
        if getattr(opts, name) < 1:
            problems.append(f"--{name} must be 1 or more.")
    if opts.max_retries < 0:
        problems.append("--max_retries must not be negative.")
    if not (math.isfinite(opts.request_timeout_s) and opts.request_timeout_s > 0):
        problems.append("--request_timeout_s must be a positive number of seconds.")
    return problems
