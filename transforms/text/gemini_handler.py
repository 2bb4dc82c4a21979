"""Beam's GeminiModelHandler, taught to ask for sentence variations with several API keys.

What Beam's handler (a RemoteModelHandler) already does and is kept: the
client is made once per worker (`create_client`), every failed request whose
error passes `retry_filter` is retried with exponential backoff up to
`num_retries` times, a ReactiveThrottler backs off when many requests fail,
and a `RateLimiter` is asked before every attempt. What this subclass adds:

- one RunInference element is one request: a list of (sentence_id, sentence)
  pairs sent as one prompt with a response schema (max_batch_size=1, so a
  retry re-sends exactly that request);
- keys come from where the client is made, never from the pickled handler, so
  they are not part of the job graph: GEMINI_API_KEYS=k1,k2 (or GEMINI_API_KEY)
  in the environment for local runs, or a Secret Manager secret for remote
  workers, which do not see the launching shell's environment;
- on 429 the request moves to the next key at once; only when every key said
  429 does the error go to Beam's backoff;
- `RequestsPerMinute`, a RateLimiter counting every send (key rotations and
  retries included) in a sliding one-minute window;
- every error leaves `request()` rebuilt from a scrubbed message and without
  its chained cause, so no key reaches Beam's retry log, the dead-letter
  output or augment_failed.csv.

The prediction is the model's raw text: checking it is the next step's job,
so that a bad answer is a result to act on, not an exception to retry.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

import httpx
from apache_beam.io.components.rate_limiter import RateLimiter
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import PredictionResult
from apache_beam.ml.inference.gemini_inference import (
    GeminiModelHandler,
    _retry_on_appropriate_service_error,
    generate_from_string,
)
from google import genai
from google.genai import errors, types

from transforms.text import sentence_variations as sv

LOG = logging.getLogger("ghsl")
KEYS_ENV = "GEMINI_API_KEYS"
KEY_ENV = "GEMINI_API_KEY"
# The parent wants a key or a Vertex project at construction; the real keys are
# read in create_client (see module docstring), this only selects the Developer API.
KEYS_FROM_ENVIRONMENT = "keys-are-read-where-the-client-is-made"

_REQUESTS = Metrics.counter("ghsl", "gemini_requests")
_ROTATIONS = Metrics.counter("ghsl", "gemini_key_rotations")


def split_keys(text: str) -> List[str]:
    return [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]


def keys_from_environment(environ=os.environ) -> List[str]:
    return split_keys(environ.get(KEYS_ENV, "")) or split_keys(environ.get(KEY_ENV, ""))


def keys_from_secret(secret_version: str) -> List[str]:
    """Keys stored in Secret Manager as one key or k1,k2 (the worker's own credentials read it)."""
    from google.cloud import secretmanager  # only jobs that use a secret need the client

    payload = secretmanager.SecretManagerServiceClient().access_secret_version(name=secret_version).payload
    return split_keys(payload.data.decode("utf-8"))


class GeminiUnavailable(Exception):
    """The request got no HTTP answer (timeout, refused connection); retried like a 5xx."""


class GeminiRequestFailed(Exception):
    """The request failed in a way a retry cannot fix."""


def retry_filter(exc: Exception) -> bool:
    return _retry_on_appropriate_service_error(exc) or isinstance(exc, GeminiUnavailable)


_WINDOWS: Dict[str, Deque[float]] = {}
_WINDOWS_LOCK = threading.Lock()


class RequestsPerMinute(RateLimiter):
    """At most `limit` sends in any `period_s` window, blocking until one is allowed.

    The window lives in the worker process under `name` (both RunInference
    steps of a run pass the same name, so they share it). Requests leave from
    one bundle (see pipeline/augment_text.py), hence one process: the limit
    holds for the whole job without a rate-limit service.
    """

    def __init__(self, limit: int, name: str, period_s: float = 60.0):
        super().__init__(namespace="ghsl")
        self.limit = limit
        self.name = name
        self.period_s = period_s

    def allow(self, hits_added: int = 1, **kwargs) -> bool:
        self.requests_counter.inc()
        while True:
            with _WINDOWS_LOCK:
                window = _WINDOWS.setdefault(self.name, collections.deque())
                now = time.monotonic()
                while window and window[0] <= now - self.period_s:
                    window.popleft()
                if len(window) + hits_added <= self.limit:
                    window.extend([now] * hits_added)
                    self.requests_allowed.inc()
                    return True
                wait = window[0] + self.period_s - now
            self.requests_throttled.inc()
            time.sleep(wait)


class _KeyRing:
    """One client per key and the one in use, shared by the threads of a worker."""

    def __init__(self, clients: List[genai.Client], secrets: Sequence[str]):
        self.clients = clients
        self.secrets = tuple(secrets)
        self._current = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.clients)

    def current(self) -> Tuple[int, genai.Client]:
        with self._lock:
            return self._current, self.clients[self._current]

    def rotate(self, failed: int) -> int:
        with self._lock:
            # Another thread may have rotated already; move only off the key that failed.
            if self._current == failed:
                self._current = (failed + 1) % len(self.clients)
            return self._current


class SentenceVariationsHandler(GeminiModelHandler):
    def __init__(self, model_name: str, variations: int, *, rate_limiter: RateLimiter,
                 vertex_project: Optional[str] = None, vertex_location: Optional[str] = None,
                 api_key_secret: Optional[str] = None, timeout_s: float = 120.0, num_retries: int = 5,
                 throttle_delay_secs: int = 5):
        super().__init__(
            model_name, generate_from_string,
            api_key=None if vertex_project else KEYS_FROM_ENVIRONMENT,
            project=vertex_project, location=vertex_location if vertex_project else None,
            max_batch_size=1,
            num_retries=num_retries, throttle_delay_secs=throttle_delay_secs, rate_limiter=rate_limiter)
        self.retry_filter = retry_filter
        self.variations = variations
        self.api_key_secret = api_key_secret
        self.timeout_s = timeout_s

    def create_client(self) -> _KeyRing:
        http_options = types.HttpOptions(
            timeout=int(self.timeout_s * 1000),
            # One attempt per send: retries belong to Beam's machinery, which also counts them.
            retry_options=types.HttpRetryOptions(attempts=1))
        if self.use_vertex:
            client = genai.Client(vertexai=True, project=self.project, location=self.location,
                                  http_options=http_options)
            return _KeyRing([client], ())
        keys = keys_from_secret(self.api_key_secret) if self.api_key_secret else keys_from_environment()
        if not keys:
            raise GeminiRequestFailed(f"No Gemini API key on this worker: set {KEYS_ENV} or {KEY_ENV}, "
                                      f"or pass --api_key_secret.")
        return _KeyRing([genai.Client(api_key=k, http_options=http_options) for k in keys], keys)

    def request(self, batch: Sequence[List[sv.Pair]], model: _KeyRing,
                inference_args: Optional[Dict[str, Any]] = None) -> Iterable[PredictionResult]:
        return [PredictionResult(pairs, self._ask(pairs, model), self.model_name) for pairs in batch]

    def _ask(self, pairs: List[sv.Pair], ring: _KeyRing) -> Optional[str]:
        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=sv.response_schema(self.variations))
        text = sv.prompt(pairs, self.variations)
        tried = 0
        while True:
            if tried:
                # A send with another key is still a send: it counts against the limit.
                self._rate_limiter.allow(hits_added=1)
            index, client = ring.current()
            _REQUESTS.inc()
            try:
                return self.request_fn(self.model_name, [text], client, {"config": config}).text
            except errors.APIError as exc:
                if exc.code == 429 and len(ring) > 1:
                    # Rotating after the last key too makes Beam's next retry start on a fresh one.
                    now = ring.rotate(index)
                    _ROTATIONS.inc()
                    LOG.warning("Gemini key %d of %d is out of quota (429); moving to key %d.",
                                index + 1, len(ring), now + 1)
                    tried += 1
                    if tried < len(ring):
                        continue
                raise _scrubbed_api_error(exc, ring.secrets) from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise GeminiUnavailable(sv.scrub(f"{type(exc).__name__}: {exc}", ring.secrets)) from None
            except Exception as exc:  # the SDK's own errors: the message may quote the request
                raise GeminiRequestFailed(sv.scrub(f"{type(exc).__name__}: {exc}", ring.secrets)) from None


def _scrubbed_api_error(exc: errors.APIError, secrets: Sequence[str]) -> errors.APIError:
    """The same APIError class and code (Beam's retry filter reads them), its body scrubbed."""
    details = json.loads(sv.scrub(json.dumps(exc.details, default=str), secrets))
    return type(exc)(exc.code, details)
