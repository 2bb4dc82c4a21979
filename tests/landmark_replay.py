"""Landmarks extracted once per test session, replayed to every later extraction of the same video.

MediaPipe is deterministic (../shared/NOTES.md: the same video gives bit-identical
landmarks run to run), so a test that is not about extraction loses nothing when
the .pose bytes of a video it decodes come from an earlier real decode of the same
bytes with the same options. `HolisticExtractor.extract` is wrapped (and so is
`ExtractorProcess`, with the same in-process replay instead of a child): the first
call for a (video sha256, options) key runs the real Holistic and stores its
output (or the VideoDecodeError it raised) in a folder every pytest-xdist worker
shares, under a file lock; later calls read it back. Holistic itself is built
only when a video is really decoded.

The modules that test extraction itself (REAL_EXTRACTION in tests/conftest.py)
never see the replay; neither do runs in subprocesses.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from filelock import FileLock

from transforms.landmarks import extractor_process, holistic

_real_init = holistic.HolisticExtractor.__init__
_real_extract = holistic.HolisticExtractor.extract
_real_close = holistic.HolisticExtractor.close


def _key(video_path: str, options: dict) -> str:
    digest = hashlib.sha256()
    with open(video_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def replaying(folder: Path):
    """Inside: every HolisticExtractor replays landmarks stored under `folder` (made on first need)."""
    folder.mkdir(parents=True, exist_ok=True)

    def init(self, **options):
        self._options = options
        self._real = None

    def extract(self, video_path: str) -> bytes:
        if not os.path.isfile(video_path) or os.path.getsize(video_path) == 0:
            return _decode(self, video_path)  # nothing to key on: the real reader says what is wrong
        key = _key(video_path, self._options)
        pose, failure = folder / f"{key}.pose", folder / f"{key}.failed"
        with FileLock(str(folder / f"{key}.lock")):
            if not pose.exists() and not failure.exists():
                try:
                    pose.write_bytes(_decode(self, video_path))
                except holistic.VideoDecodeError as exc:
                    failure.write_text(str(exc), encoding="utf-8")
        if failure.exists():
            raise holistic.VideoDecodeError(failure.read_text(encoding="utf-8"))
        return pose.read_bytes()

    def close(self):
        if self._real is not None:
            _real_close(self._real)

    classes = (holistic.HolisticExtractor, extractor_process.ExtractorProcess)
    originals = [(cls, cls.__init__, cls.extract, cls.close) for cls in classes]
    for cls in classes:
        cls.__init__, cls.extract, cls.close = init, extract, close
    try:
        yield
    finally:
        for cls, *methods in originals:
            cls.__init__, cls.extract, cls.close = methods


def _decode(replayer, video_path: str) -> bytes:
    """The real extraction, with a real Holistic built on first need."""
    if replayer._real is None:
        real = object.__new__(holistic.HolisticExtractor)
        _real_init(real, **replayer._options)
        replayer._real = real
    return _real_extract(replayer._real, video_path)
