"""A real GCS emulator (gcp-storage-emulator) on a free loopback port, for the tests and the benchmarks.

Beam's GCS filesystem and the google-cloud-storage client follow
STORAGE_EMULATOR_HOST and connect anonymously. Without credentials Beam retries
google.auth.default() with backoff for ~23 s in every process before connecting
anonymously; a user credential holding a token valid far into the future is
found at once and never refreshed (no network), so `environment` writes one.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Tuple


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(bucket: str, log_path: Path) -> Tuple[subprocess.Popen, str]:
    """(process, http://127.0.0.1:PORT) of a fresh in-memory emulator holding `bucket`; its output goes to
    log_path. Raises RuntimeError, naming the log, when it does not answer within 30 s."""
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1",
                             f"--port={port}", "--in-memory", f"--default-bucket={bucket}"],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child keeps its own descriptor
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b/{bucket}", timeout=1)
            return proc, f"http://127.0.0.1:{port}"
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"gcp-storage-emulator did not start; see {log_path}")
            time.sleep(0.2)


def environment(host: str, credentials: Path, project: str) -> Dict[str, str]:
    """The variables that point every storage client at `host`, with a credential written to `credentials`."""
    credentials.write_text(json.dumps({"type": "authorized_user", "client_id": project, "client_secret": project,
                                       "refresh_token": project, "token": "emulator-token",
                                       "expiry": "2099-01-01T00:00:00Z"}))
    return {"STORAGE_EMULATOR_HOST": host, "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
            "GOOGLE_CLOUD_PROJECT": project}


@contextlib.contextmanager
def environ(env: Dict[str, str]) -> Iterator[None]:
    """`env` set in this process for the block, every variable put back as it was afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
