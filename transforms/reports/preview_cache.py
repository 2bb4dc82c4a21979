"""The report's previews kept between runs: OUT/proc/report_previews.json.

A preview is an animated GIF drawn from one clip's .npy or .pose. The job's
results carry the listing version of every clip's files (ClipResult.outputs),
so a preview drawn from a file at the same version, with the same settings, is
the same picture: it is taken from here instead of reading the file and drawing
it again. A weekly run with nothing changed thus reads no .npy or .pose for its
report. The file holds exactly the previews of the last report; it is rewritten
only when they change.

    {"format": "ghsl-report-previews/1",
     "previews": {"<key>": {"source": …, "gif": "<base64>", "frames": 62, "frames_shown": 24}}}

A key is the sha256 of the clip, the file drawn from and its version, and every
setting that changes the picture (see `key`).
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Dict, Optional

from transforms.store.paths import proc_path
from transforms.common import storage

PREVIEWS_JSON = "report_previews.json"
FORMAT = "ghsl-report-previews/1"
# Bumped when the drawing code changes what a preview looks like for the same input.
DRAWING = "skeleton 1"


def key(video_file: str, status: str, drawn_from: str, version: Optional[str], settings: dict) -> Optional[str]:
    """The cache key of a preview, or None when the file's version is unknown (then it is drawn)."""
    if version is None:
        return None
    text = json.dumps({"video": video_file, "status": status, "from": drawn_from, "version": version,
                       "drawing": DRAWING, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read(output_dir: str) -> Dict[str, dict]:
    """key → cached preview fields; empty when there is no usable cache."""
    data = storage.read_if_present(proc_path(output_dir, PREVIEWS_JSON))
    if data is None:
        return {}
    try:
        found = json.loads(data)
        if found.get("format") != FORMAT:
            return {}
        return {k: {**v, "gif": base64.b64decode(v["gif"])} for k, v in found["previews"].items()}
    except (ValueError, KeyError, TypeError):  # damaged: the previews are drawn again
        return {}


def text(previews: Dict[str, dict]) -> str:
    return json.dumps({"format": FORMAT, "previews": {
        k: {**v, "gif": base64.b64encode(v["gif"]).decode("ascii")} for k, v in sorted(previews.items())}},
        sort_keys=True) + "\n"
