"""Sentences that are one text under different ids: the text-duplicate groups.

Pure Python (unicodedata). Two sentence ids whose texts normalize to the same
string are grouped, so the caller can keep them in one split: otherwise the same
sentence, typed twice into the metadata, is trained on under one id and tested
under the other.

Normalization (`normalize`), in order:
1. Unicode NFKC, then case folding, then NFKC again (case folding can undo it):
   composed and decomposed accents, full-width letters and digits, ligatures and
   "ß"/"SS" become one spelling.
2. "?" marks a question and is kept where it stands (a run of them, "?!", "‽" or
   NFKC's "⁇" is one): a question and a statement with the same words are
   different sentences, signed differently (GhSL, like other sign languages, marks
   a question with the face and often a question sign), so they stay apart.
3. "!" is dropped like "." and every other punctuation mark. An exclamation and a
   statement with the same words are signed with the same signs (emphasis lives in
   the face and the movement's intensity), and the metadata's final marks are
   typed by hand, so "Take your medicine!" and "Take your medicine." are one
   sentence. Grouping is also the safe side: an extra group only keeps two ids in
   one split, a missed one leaks a sentence across splits.
4. Apostrophes inside words are dropped ("don't" = "dont"); every other
   punctuation mark becomes a space (so "follow-up" = "follow up"), except
   KEPT_MARKS, which carry meaning ("50%" ≠ "50"). Format characters (zero-width
   spaces and joiners, soft hyphens, byte-order marks) are dropped.
5. Runs of white space (any Unicode space) become one space; the ends are stripped.
"""
from __future__ import annotations

import dataclasses
import unicodedata
from collections import defaultdict
from typing import Iterable, List, Tuple

from transforms.duplicates.families import components

QUESTION_MARKS = "?‽"
APOSTROPHES = "'\u2018\u2019\u02bc"
KEPT_MARKS = "%&@#"


@dataclasses.dataclass(frozen=True)
class TextGroup:
    sentence_ids: Tuple[str, ...]   # two or more, sorted
    texts: Tuple[str, ...]          # their normalized text (more than one only when an id has several texts)


def normalize(text: str) -> str:
    """The sentence as compared for text duplicates (module docstring)."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in QUESTION_MARKS:
            out.append(" ? ")
        elif ch in APOSTROPHES or category == "Cf":
            continue
        elif category.startswith("P") and ch not in KEPT_MARKS:
            out.append(" ")
        else:
            out.append(ch)
    words = []
    for word in "".join(out).split():
        if word == "?" and words and words[-1].endswith("?"):
            continue
        if word == "?" and words:
            words[-1] += "?"
        else:
            words.append(word)
    return " ".join(words)


def text_duplicates(sentences: Iterable[Tuple[str, str]]) -> List[TextGroup]:
    """(sentence_id, text) pairs → the groups of two or more ids whose texts normalize alike.

    An id may come more than once (one row per video); an id under two different texts
    joins both groups into one. Texts without a letter or digit ("", "...", "?") are never grouped.
    """
    ids_of = defaultdict(set)
    texts_of = defaultdict(set)
    for sentence_id, text in sentences:
        key = normalize(text)
        if any(ch.isalnum() for ch in key):
            ids_of[key].add(sentence_id)
            texts_of[sentence_id].add(key)
    joined = [(min(ids), other) for ids in ids_of.values() for other in ids]
    return [TextGroup(group, tuple(sorted({t for i in group for t in texts_of[i]})))
            for group in components(joined) if len(group) > 1]
