"""The report's pictures kept between runs: OUT/proc/report_previews.json.

A preview is an animated GIF drawn from one clip's .npy or .pose; a plot is a
PNG drawn from the dataset's numbers. The reports step knows the listing
version of every clip's files (the results carry them), so a preview drawn from
a file at the same version, with the same settings, is the same picture, and a
plot drawn from the same numbers is the same plot: both are taken from here
instead of being drawn again. A weekly run with nothing changed thus reads no
.npy or .pose for its report and draws nothing (no plotting library is even
imported). The file holds exactly the pictures of the last report; it is
rewritten only when they change.

    {"format": "ghsl-report-previews/2",
     "previews": {"<key>": {"source": …, "gif": "<base64>", "frames": 62, "frames_shown": 24}},
     "plots": {"<key>": {"name": "frame_counts", "png": "<base64>"}}}

A preview's key is the sha256 of the clip, the file drawn from and its version,
and every setting that changes the picture (see `key`); a plot's key is the
sha256 of everything it is drawn from (transforms/reports/report_html.py).
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Dict, NamedTuple, Optional

from transforms.common import storage
from transforms.store.paths import proc_path

PREVIEWS_JSON = "report_previews.json"
FORMAT = "ghsl-report-previews/2"
# Bumped when the drawing code changes what a preview looks like for the same input.
DRAWING = "skeleton 1"


class Pictures(NamedTuple):
    previews: Dict[str, dict]   # key → source, gif (bytes), frames, frames_shown
    plots: Dict[str, dict]      # key → name, png (bytes)


EMPTY = Pictures({}, {})


def key(video_file: str, status: str, drawn_from: str, version: Optional[str], settings: dict) -> Optional[str]:
    """The cache key of a preview, or None when the file's version is unknown (then it is drawn)."""
    if version is None:
        return None
    text = json.dumps({"video": video_file, "status": status, "from": drawn_from, "version": version,
                       "drawing": DRAWING, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read(output_dir: str) -> Pictures:
    """What the last report kept; empty when there is no usable cache."""
    data = storage.read_if_present(proc_path(output_dir, PREVIEWS_JSON))
    if data is None:
        return EMPTY
    try:
        found = json.loads(data)
        if found.get("format") != FORMAT:
            return EMPTY
        return Pictures({k: {**v, "gif": base64.b64decode(v["gif"])} for k, v in found["previews"].items()},
                        {k: {**v, "png": base64.b64decode(v["png"])} for k, v in found["plots"].items()})
    except (ValueError, KeyError, TypeError):  # damaged: the pictures are drawn again
        return EMPTY


def text(pictures: Pictures) -> str:
    return json.dumps({"format": FORMAT, "previews": {
        k: {**v, "gif": base64.b64encode(v["gif"]).decode("ascii")} for k, v in sorted(pictures.previews.items())},
        "plots": {k: {**v, "png": base64.b64encode(v["png"]).decode("ascii")}
                  for k, v in sorted(pictures.plots.items())}}, sort_keys=True) + "\n"
