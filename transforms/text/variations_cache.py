"""The variations cache, sentence_variations.json: {sentence_id: [sentence, variation 1, …]}.

It holds only answers that passed the checks (never a fallback), so a missing
id is exactly "still to ask". Every write goes through storage.write_text,
which publishes the whole file at once: a run killed mid-write leaves the
previous complete file. An entry is reused only for the same sentence text
(its first element) and the same number of variations; otherwise the sentence
is asked again, which is what a user who edited a sentence or changed
--variations expects.
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional

from transforms.common import storage

Cache = Dict[str, List[str]]


class CacheError(ValueError):
    """The cache file cannot be used; the message says how to fix it."""


def load(path: str) -> Cache:
    if not storage.exists(path):
        return {}
    try:
        found = json.loads(storage.read_bytes(path).decode("utf-8"))
    except ValueError as exc:
        raise CacheError(f"The variations cache {path} is not valid JSON ({exc}). "
                         f"Move it away or pass another --cache; it is rebuilt from Gemini.") from exc
    if not isinstance(found, dict):
        raise CacheError(f"The variations cache {path} is not a JSON object of sentence_id → list. "
                         f"Move it away or pass another --cache.")
    return {str(sid): v for sid, v in found.items()
            if isinstance(v, list) and v and all(isinstance(s, str) for s in v)}


def lookup(cache: Cache, sentence_id: str, sentence: str, n: int) -> Optional[List[str]]:
    found = cache.get(sentence_id)
    if found and found[0] == sentence and len(found) == n + 1:
        return found
    return None


def add(path: str, answers: Cache) -> Cache:
    """Merges `answers` into the file at `path` (read, update, publish) and returns the merged cache.

    Re-reading first keeps what another step of the same run wrote since.
    """
    merged = load(path)
    merged.update(answers)
    storage.write_text(path, json.dumps(merged, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return merged
