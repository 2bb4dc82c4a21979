"""The audit of a run's saved clips: its links, families, report rows and text groups, from small values only.

Pure Python and NumPy. One AuditClip per saved clip holds what the audit reads: the
video_file, the sentence id and text, the sha256 of the clip's .pose (exact copies)
and its stored signature (near copies; 688 characters, transforms/store/records.py).
No array and no file: the job carries these to one step (pipeline/graph.py, "Find
duplicate recordings"), and pipeline.release reads them from the records.

The near search is the only costly part (docs/duplicates.md, Scale: 3 s at 10,000
clips, 105 s at 100,000). Its links depend on the audit's settings and, per clip, on
the video_file, the .pose sha256 and the signature alone; `inputs_sha256` hashes
exactly those. A run keeps its links under that digest (proc/duplicate_links.json,
`links_json`), so the next run with the same saved clips reuses them without
searching, and any change to the saved clips (added, removed, recomputed) searches
again over all of them: the links are then a function of the inputs alone, never of
what an earlier run happened to find, so a release id (which names the inputs and
the audit's settings) always means the same families. Report rows and text groups
depend on the sentence ids too; they are cheap and made again every time.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from transforms.duplicates import families as fam
from transforms.duplicates import links as lk
from transforms.duplicates import signature as sig
from transforms.duplicates import text
from transforms.duplicates.settings import audit_settings

LINKS_FORMAT = "ghsl-duplicate-links/1"


@dataclasses.dataclass(frozen=True)
class AuditClip:
    video_file: str
    sentence_id: str
    sentence: str
    digest: str                 # sha256 of the clip's .pose: equal for two copies of one file
    signature: Optional[str]    # the stored signature (base64), None when the landmarks give none


@dataclasses.dataclass(frozen=True)
class Audit:
    """What the audit found among the saved clips."""

    links: Tuple[lk.Link, ...]                 # exact and near, in (first, second) order
    rows: Tuple[fam.Duplicate, ...]            # one per copy, in video_file order
    text_groups: Tuple[text.TextGroup, ...]    # sentence ids whose texts normalize alike
    sentence_ids: Dict[str, str]               # video_file → sentence id, for every linked clip
    inputs_sha256: str
    clips: int                                 # saved clips audited
    searched: bool                             # the near search ran here (False: its links were reused)
    seconds: float = 0.0                       # what finding the links took

    def families(self) -> List[Tuple[str, ...]]:
        """Every family of two or more clips, members sorted (the earliest video_file first)."""
        return fam.families(self.links)

    def family_of(self) -> Dict[str, str]:
        """video_file → its family's earliest video_file, for every clip in a family."""
        return {clip: family[0] for family in self.families() for clip in family}

    def counts(self) -> Dict[str, object]:
        """run_summary.json's "duplicates"."""
        settings = audit_settings()
        return {"version": settings["version"], "threshold": settings["threshold"], "clips": self.clips,
                "families": len(self.families()), "copies": len(self.rows),
                "exact": sum(1 for r in self.rows if r.kind == lk.EXACT),
                "near": sum(1 for r in self.rows if r.kind == lk.NEAR),
                "same_sentence_id": sum(1 for r in self.rows if r.same_sentence),
                "text_groups": len(self.text_groups), "searched": self.searched}


def inputs_sha256(clips: Iterable[AuditClip]) -> str:
    """The digest of everything the links depend on: the settings and each clip's name, digest and signature."""
    digest = hashlib.sha256(json.dumps({"audit": audit_settings(), "signature": sig.FORMAT},
                                       sort_keys=True).encode("utf-8"))
    for c in sorted(clips, key=lambda c: c.video_file):
        digest.update(b"\0" + c.video_file.encode("utf-8") + b"\0" + c.digest.encode("ascii")
                      + b"\0" + (c.signature or "").encode("ascii"))
    return digest.hexdigest()


def find_links(clips: Sequence[AuditClip]) -> List[lk.Link]:
    """Exact links (same .pose sha256) and near links (the indexed search and alignment), over clips in
    video_file order so that the search's sampling, and so its result, depends on the clips alone."""
    ordered = sorted(clips, key=lambda c: c.video_file)
    exact = lk.exact_links({c.video_file: c.digest for c in ordered})
    signed = [c for c in ordered if c.signature]
    near = lk.near_links([c.video_file for c in signed], sig.stack_encoded([c.signature for c in signed]))
    # A pair both exact and near is one exact link: the same file needs no similarity.
    exact_pairs = {(l.first, l.second) for l in exact}
    return sorted(exact + [l for l in near if (l.first, l.second) not in exact_pairs],
                  key=lambda l: (l.first, l.second))


def audit(clips: Sequence[AuditClip], cached: Optional[Tuple[str, List[lk.Link]]] = None) -> Audit:
    """The audit of `clips`; cached: (inputs_sha256, links) of an earlier audit, reused when its digest is theirs."""
    digest = inputs_sha256(clips)
    started = time.perf_counter()
    searched = cached is None or cached[0] != digest
    found = find_links(clips) if searched else list(cached[1])
    seconds = time.perf_counter() - started
    sentence_of = {c.video_file: c.sentence_id for c in clips}
    linked = {v for l in found for v in (l.first, l.second)}
    sentence_ids = {v: sentence_of[v] for v in sorted(linked)}
    rows = fam.duplicate_rows(found, sentence_ids)
    groups = text.text_duplicates((c.sentence_id, c.sentence) for c in clips)
    return Audit(tuple(found), tuple(rows), tuple(groups), sentence_ids, digest, len(clips), searched, seconds)


# --- proc/duplicate_links.json: the links kept under the digest of their inputs --------------------

def links_json(found: Audit) -> str:
    """The links, the digest they were found for and the links' own sha256 (strict JSON)."""
    rows = [[l.first, l.second, l.kind, l.similarity, l.mirrored] for l in found.links]
    return json.dumps({"format": LINKS_FORMAT, "audit": audit_settings(), "inputs_sha256": found.inputs_sha256,
                       "clips": found.clips, "links_sha256": _links_sha256(rows), "links": rows},
                      indent=0, allow_nan=False) + "\n"


def _links_sha256(rows: list) -> str:
    # The inputs' digest says what the links were found from; this one that they are still what was found
    # (a damaged or edited file would otherwise be reused as the audit of those clips).
    return hashlib.sha256(json.dumps(rows, separators=(",", ":"), allow_nan=False).encode()).hexdigest()


def read_links_json(data: Optional[bytes]) -> Optional[Tuple[str, List[lk.Link]]]:
    """(inputs_sha256, links) of a links file; None when there is none or it is not one of today's audit
    (another format or settings, damaged, its links not those its sha256 names): the links are then found
    again."""
    if data is None:
        return None
    try:
        found = json.loads(data)
        if found.get("format") != LINKS_FORMAT or found.get("audit") != audit_settings():
            return None
        if found.get("links_sha256") != _links_sha256(found["links"]):
            return None
        return str(found["inputs_sha256"]), [lk.Link(a, b, kind, float(s), bool(m))
                                             for a, b, kind, s, m in found["links"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


# --- the reports: proc/duplicates.csv and proc/sentence_duplicates.csv -----------------------------

DUPLICATE_COLUMNS = ("video_file", "duplicate_of", "kind", "similarity", "same_sentence_id", "mirrored", "linked_to",
                     "sentence_id", "duplicate_of_sentence_id")
TEXT_COLUMNS = ("sentence_id", "duplicate_of", "normalized_text")


def duplicate_rows(found: Audit) -> List[Dict[str, object]]:
    """proc/duplicates.csv's rows: one per copy, against its family's earliest video_file."""
    return [{"video_file": r.video_file, "duplicate_of": r.duplicate_of, "kind": r.kind,
             "similarity": round(r.similarity, 4), "same_sentence_id": r.same_sentence, "mirrored": r.mirrored,
             "linked_to": r.linked_to, "sentence_id": found.sentence_ids[r.video_file],
             "duplicate_of_sentence_id": found.sentence_ids[r.duplicate_of]} for r in found.rows]


def text_rows(found: Audit) -> List[Dict[str, object]]:
    """proc/sentence_duplicates.csv's rows: one per sentence id of a text group, against the group's first id."""
    return [{"sentence_id": sid, "duplicate_of": g.sentence_ids[0], "normalized_text": " | ".join(g.texts)}
            for g in found.text_groups for sid in g.sentence_ids]


def text_key_of(groups: Iterable[text.TextGroup]) -> Mapping[str, str]:
    """sentence id → the first id of its text group, for every id in a group (the splitter's text links)."""
    return {sid: g.sentence_ids[0] for g in groups for sid in g.sentence_ids}
