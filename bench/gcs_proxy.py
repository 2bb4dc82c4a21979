"""A counting HTTP proxy in front of the GCS emulator, with an optional delay per request.

Point STORAGE_EMULATOR_HOST at `proxy.url` and every request the storage
clients send (Beam's and google-cloud-storage's) passes through here, is
counted by kind (bucket lookup, object metadata, download, upload, listing,
delete…) and is held `latency` seconds first: about a laptop's or a launcher's
round trip to a bucket. Used by the tests that bound the requests of a re-run
and by `bench.bucket_requests`.

A test can also hold one request (`hold`): the proxy stops it before it reaches
the emulator and tells the test, which then kills the job at that exact moment
from outside (tests/test_killed_runs.py): the product has no hook for it.

It also does two things GCS does and gcp-storage-emulator does not, so that
code meets the real behaviour here and the counts are those GCS would see:
- an upload or a delete with an `ifGenerationMatch` precondition that does not
  hold is refused with 412 (0: the object must not exist), which the lease relies on;
- a listing returns at most `maxResults` objects (default and most 1,000) and a
  `nextPageToken` for the rest, so listing 2,500 objects takes three requests.
"""
from __future__ import annotations

import collections
import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse
from typing import Counter, Dict

_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def kind(method: str, url: str) -> str:
    """What a JSON-API request does, e.g. 'download', 'upload', 'list', 'object metadata'."""
    parsed = urllib.parse.urlsplit(url)
    path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
    if path.startswith("/upload/"):
        return "upload"
    if path.startswith("/batch/"):
        return "batch"
    if "/o/" in path or path.startswith("/download/"):
        if method == "DELETE":
            return "delete"
        if "/copyTo/" in path or "/rewriteTo/" in path:
            return "copy"
        if query.get("alt") == ["media"] or path.startswith("/download/"):
            return "download"
        return "object metadata" if method == "GET" else f"object {method}"
    if re.search(r"/b/[^/]+/o$", path):
        return "list"
    if re.search(r"/b/[^/]+$", path):
        return "bucket lookup"
    return f"{method} other"


_BUCKET = re.compile(r"^(?:/upload)?/storage/v1/b/([^/]+)/o")
_PRECONDITION_FAILED = json.dumps({"error": {
    "code": 412, "message": "At least one of the pre-conditions you specified did not hold.",
    "errors": [{"message": "At least one of the pre-conditions you specified did not hold.", "domain": "global",
                "reason": "conditionNotMet", "locationType": "header", "location": "If-Match"}]}}).encode()

PAGE_SIZE = 1000  # GCS's default and largest maxResults
_PAGE_TOKEN = "proxy-offset-"

_UPLOAD_NAME = re.compile(rb'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def object_name(url: str, body: bytes = b"") -> str:
    """The object a request is about ('' for a bucket-wide one, e.g. a listing).

    An upload names it in the query or in the JSON metadata at the start of its body.
    """
    parsed = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parsed.query)
    if parsed.path.startswith("/upload/"):
        if "name" in query:
            return query["name"][0]
        found = _UPLOAD_NAME.search(body[:4096])
        return json.loads(b'"' + found.group(1) + b'"') if found else ""
    if "/o/" in parsed.path:
        return urllib.parse.unquote(parsed.path.split("/o/", 1)[1])
    return ""


class CountingProxy:
    def __init__(self, target: str, latency: float = 0.0):
        """target: the emulator, e.g. http://127.0.0.1:PORT."""
        self.target = urllib.parse.urlsplit(target)
        self.latency = latency
        self.counts: Counter[str] = collections.Counter()
        self.requests: list = []      # (kind, method, path) of each request, in order
        self._lock = threading.Lock()
        self._conditional = threading.Lock()  # a precondition's check and its request, as one step
        self._holds: list = []                # (predicate, reached event, released event)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "CountingProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def take(self) -> Dict[str, int]:
        """The counts since the last take (or start), reset to zero."""
        with self._lock:
            counts, self.counts, self.requests = dict(self.counts), collections.Counter(), []
        return counts

    def hold(self, predicate) -> threading.Event:
        """Stop the first request for which predicate(kind, method, object name) holds, before it reaches
        the emulator; the returned event is set once it arrived. `release_holds` drops it: a held request
        is one whose sender the test kills, so it never reaches the emulator."""
        reached = threading.Event()
        with self._lock:
            self._holds.append((predicate, reached, threading.Event()))
        return reached

    def release_holds(self) -> None:
        with self._lock:
            holds, self._holds = self._holds, []
        for _, _, released in holds:
            released.set()

    def _held(self, method: str, path: str, body: bytes) -> bool:
        """True when this request was held (and is to be dropped)."""
        with self._lock:
            found = next(((p, r, e) for p, r, e in self._holds if not r.is_set()
                          and p(kind(method, path), method, object_name(path, body))), None)
            if found is not None:
                found[1].set()
        if found is not None:
            found[2].wait(timeout=600)
        return found is not None

    def _count(self, method: str, path: str, body: bytes) -> None:
        with self._lock:
            self.counts[kind(method, path)] += 1
            self.requests.append((kind(method, path), method, object_name(path, body)))

    def _handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self):
                body = self._body()
                proxy._count(self.command, self.path, body)
                if proxy._held(self.command, self.path, body):
                    self.close_connection = True
                    return
                if proxy.latency:
                    time.sleep(proxy.latency)
                if self.command == "GET" and kind(self.command, self.path) == "list":
                    return self._list_page()
                expected = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("ifGenerationMatch")
                if expected and self.command in ("POST", "PUT", "PATCH", "DELETE") and _BUCKET.match(self.path):
                    with proxy._conditional:
                        if proxy._generation(self.path, body) != int(expected[0]):
                            return self._reply(412, "Precondition Failed", _PRECONDITION_FAILED)
                        return self._send_upstream(body)
                self._send_upstream(body)

            def _list_page(self):
                """The whole listing from the emulator, cut into GCS-sized pages."""
                parsed = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parsed.query)
                size = min(int(query.pop("maxResults", [PAGE_SIZE])[0]), PAGE_SIZE)
                token = query.pop("pageToken", [""])[0]
                start = int(token[len(_PAGE_TOKEN):]) if token.startswith(_PAGE_TOKEN) else 0
                query.pop("fields", None)  # nextPageToken must come back, whatever fields asked for
                status, data = proxy._upstream("GET", f"{parsed.path}?{urllib.parse.urlencode(query, doseq=True)}")
                if status != 200:
                    return self._reply(status, "", data)
                listing = json.loads(data)
                items = sorted(listing.get("items", []), key=lambda item: item["name"])
                listing["items"] = items[start:start + size]
                listing.pop("nextPageToken", None)
                if start + size < len(items):
                    listing["nextPageToken"] = f"{_PAGE_TOKEN}{start + size}"
                if start:
                    listing.pop("prefixes", None)  # given with the first page
                self._reply(200, "OK", json.dumps(listing).encode())

            def _reply(self, status: int, reason: str, data: bytes):
                self.send_response(status, reason)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_upstream(self, body: bytes):
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_HEADERS and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler

    def _generation(self, url: str, body: bytes) -> int:
        """The current generation of the object a request names; 0 when there is none."""
        bucket = _BUCKET.match(url).group(1)
        name = urllib.parse.quote(object_name(url, body), safe="")
        status, data = self._upstream("GET", f"/storage/v1/b/{bucket}/o/{name}")
        return int(json.loads(data)["generation"]) if status == 200 else 0

    def _upstream(self, method: str, url: str) -> tuple:
        """(status, body) of a request of the proxy's own to the emulator, not counted."""
        upstream = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=120)
        try:
            upstream.request(method, url)
            response = upstream.getresponse()
            return response.status, response.read()
        finally:
            upstream.close()
