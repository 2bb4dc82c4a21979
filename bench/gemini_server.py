"""A local stand-in for the Gemini Developer API, for tests and the benchmark.

It speaks `POST /v1beta/models/{model}:generateContent` with the real response
layout (candidates → content → parts → text, finishReason, usageMetadata,
modelVersion, responseId) and the real error bodies ({"error": {"code",
"message", "status", "details"}}), so the real google-genai SDK, pointed at it
with GOOGLE_GEMINI_BASE_URL, behaves as it does against Google.

Its "model" reads the sentences the prompt lists (the JSON list it ends with)
and the number of variations from the response schema's minItems, and writes
distinct rephrasings. What it does per request is scripted:

    server.script("429", "500", "ok")      # the next three requests, then "ok"
    server.on_sentence("7", "wrong_ids", 2)  # the first two requests holding id 7
    server.exhausted_keys.add("k1")        # every request with k1 gets 429

Rules for a sentence id come first (they do not depend on the order in which
requests arrive), then the script.

Vertex AI is served too, for GOOGLE_VERTEX_BASE_URL: `POST /v1beta1/projects/
{project}/locations/{location}/publishers/google/models/{model}:generateContent`
with an OAuth bearer token, which `POST /token` (the token_uri of the test's
service-account file) hands out as Google's token endpoint does.

Actions: ok, 429, 500, invalid_json, wrong_ids (the id renamed to an
invented one), hang (no answer for `hang_s`). A request with a key outside `keys` gets the real 400
API_KEY_INVALID. Every request is recorded in `server.requests`.
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, List, Optional, Tuple

PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
VERTEX_PATH = re.compile(r"^/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
                         r"/publishers/google/models/(?P<model>[^/:]+):generateContent$")
STYLES = ("Formally: {s}", "Casually, {s}", "In short: {s}", "Put simply, {s}", "Described in full: {s}",
          "In other words, {s}", "To say it plainly: {s}", "As one might sign it: {s}")

ERRORS = {
    429: {"code": 429, "status": "RESOURCE_EXHAUSTED",
          "message": "You exceeded your current quota, please check your plan and billing details. For more "
                     "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
          "details": [
              {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
               "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                               "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                               "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                               "quotaValue": "10"}]},
              {"@type": "type.googleapis.com/google.rpc.Help",
               "links": [{"description": "Learn more about Gemini API quotas",
                          "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
              {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]},
    500: {"code": 500, "status": "INTERNAL",
          "message": "An internal error has occurred. Please retry or report in "
                     "https://developers.generativeai.google/guide/troubleshooting"},
    400: {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid. Please pass a valid API key.",
          "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                       "domain": "googleapis.com",
                       "metadata": {"service": "generativelanguage.googleapis.com"}}]},
    404: {"code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found."},
    401: {"code": 401, "status": "UNAUTHENTICATED",
          "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                     "cookie or other valid authentication credential. See "
                     "https://developers.google.com/identity/sign-in/web/devconsole-project."},
}


@dataclasses.dataclass
class Request:
    key: Optional[str]  # API key, or "bearer:<token>" on Vertex AI
    model: str
    sentence_ids: List[str]
    action: str
    at: float
    body: dict


def variations_for(sentence: str, n: int) -> List[str]:
    return [STYLES[i % len(STYLES)].format(s=sentence) + ("" if i < len(STYLES) else f" ({i})") for i in range(n)]


def listed_sentences(prompt: str) -> List[dict]:
    """The JSON list the prompt ends with: the sentences asked for."""
    return json.loads(prompt[prompt.index("["):])


def asked_count(body: dict) -> int:
    """minItems of the variations list; proto JSON accepts both spellings and the SDK sends min_items."""
    schema = body["generationConfig"]["responseSchema"]
    variations = schema["properties"]["sentences"]["items"]["properties"]["variations"]
    return int(variations.get("minItems", variations.get("min_items")))


class GeminiServer:
    def __init__(self, keys: Iterable[str] = ("test-key",), hang_s: float = 30.0):
        self.keys = set(keys)
        self.hang_s = hang_s
        self.exhausted_keys: set = set()
        self.tokens: set = set()
        self.vertex_projects: List[str] = []
        self.requests: List[Request] = []
        self._script: List[str] = []
        self._rules: List[list] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, *actions: str) -> None:
        with self._lock:
            self._script.extend(actions)

    def on_sentence(self, sentence_id: str, action: str, times: int = 1) -> None:
        with self._lock:
            self._rules.append([sentence_id, action, times])

    def start(self) -> "GeminiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "GeminiServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next_action(self, key: Optional[str], ids: List[str]) -> Tuple[str, Optional[str]]:
        """(action, the sentence id it is about)."""
        with self._lock:
            if key is not None and key.startswith("bearer:"):
                if key[len("bearer:"):] not in self.tokens:
                    return "401", None
            elif key not in self.keys:
                return "400", None
            if key in self.exhausted_keys:
                return "429", None
            for rule in self._rules:
                if rule[0] in ids and rule[2] > 0:
                    rule[2] -= 1
                    return rule[1], rule[0]
            return (self._script.pop(0) if self._script else "ok"), (ids[0] if ids else None)

    def _answer(self, model: str, body: dict, action: str, about: Optional[str]) -> dict:
        prompt = body["contents"][0]["parts"][0]["text"]
        n = asked_count(body)
        entries = [{"sentence_id": s["sentence_id"], "variations": variations_for(s["sentence"], n)}
                   for s in listed_sentences(prompt)]
        if action == "wrong_ids":
            for entry in entries:
                if entry["sentence_id"] == about:
                    entry["sentence_id"] = f"invented-{about}"
        text = json.dumps({"sentences": entries}, ensure_ascii=False)
        if action == "invalid_json":
            text = "```json\n" + text[: len(text) // 2]
        return {
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": len(prompt) // 4, "candidatesTokenCount": len(text) // 4,
                              "totalTokenCount": (len(prompt) + len(text)) // 4,
                              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": len(prompt) // 4}]},
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        }

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the test output is not the place for an access log
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                if path == "/token":
                    token = uuid.uuid4().hex
                    with server._lock:
                        server.tokens.add(token)
                    self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
                    return
                body = json.loads(raw or b"{}")
                match = PATH.match(path) or VERTEX_PATH.match(path)
                if not match:
                    self._send(404, {"error": ERRORS[404]})
                    return
                key = self.headers.get("x-goog-api-key")
                if "project" in match.groupdict():
                    key = "bearer:" + self.headers.get("Authorization", "").removeprefix("Bearer ")
                    with server._lock:
                        server.vertex_projects.append(match["project"])
                try:
                    ids = [s["sentence_id"] for s in listed_sentences(body["contents"][0]["parts"][0]["text"])]
                except (KeyError, IndexError, ValueError):
                    ids = []
                action, about = server._next_action(key, ids)
                with server._lock:
                    server.requests.append(Request(key, match["model"], ids, action, time.time(), body))
                if action == "hang":
                    server._stop.wait(server.hang_s)
                    return
                if action in ("400", "401", "429", "500"):
                    self._send(int(action), {"error": ERRORS[int(action)]})
                    return
                try:
                    answer = server._answer(match["model"], body, action, about)
                except (KeyError, IndexError, TypeError, ValueError):
                    # What the real API says to a request it cannot read.
                    self._send(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                               "message": "Request contains an invalid argument."}})
                    return
                self._send(200, answer)

        return Handler
