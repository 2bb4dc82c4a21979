"""Sentence variations: the prompt, the response schema and the check of every answer.

Pure functions, no Beam or SDK import, so each rule is testable alone.

One request asks for several sentences at once. The prompt ends with the
sentences as a JSON list of {"sentence_id", "sentence"}; the answer must be
JSON of the shape RESPONSE_SCHEMA describes (Gemini's structured output):
    {"sentences": [{"sentence_id": "12", "variations": ["…", …]}, …]}
An answer is accepted per sentence id only when it holds exactly the asked
number of non-empty, distinct strings that differ from the original. The
stored list (cache and `text_variations` column) puts the original first:
    [sentence, variation 1, …, variation N]
"""
from __future__ import annotations

import json
import re
from typing import Dict, Iterable, List, Sequence, Tuple

Pair = Tuple[str, str]  # (sentence_id, sentence)

PROMPT = """\
You rephrase English sentences that translate Ghanaian Sign Language (GhSL) signs or glosses.
For every sentence below, write exactly {n} distinct, natural English rephrasings with the same
meaning. Vary the phrasing: formal, casual, short, descriptive. Keep names, numbers and negation;
do not add facts; do not repeat the original sentence.
Answer with one entry per sentence, with its sentence_id exactly as given.
Sentences (JSON):
{sentences}"""


def prompt(pairs: Sequence[Pair], n: int) -> str:
    listed = [{"sentence_id": sid, "sentence": sentence} for sid, sentence in pairs]
    return PROMPT.format(n=n, sentences=json.dumps(listed, ensure_ascii=False, indent=1))


def response_schema(n: int) -> dict:
    """Gemini's OpenAPI-subset schema; minItems = maxItems makes the model give exactly n."""
    return {
        "type": "OBJECT",
        "properties": {
            "sentences": {
                "type": "ARRAY",
                "items": {
                    "type": "OBJECT",
                    "properties": {
                        "sentence_id": {"type": "STRING"},
                        "variations": {"type": "ARRAY", "items": {"type": "STRING"},
                                       "minItems": n, "maxItems": n},
                    },
                    "required": ["sentence_id", "variations"],
                },
            },
        },
        "required": ["sentences"],
    }


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def check_variations(sentence: str, variations: object, n: int) -> List[str]:
    """The stored list [sentence, *variations]; ValueError says what is wrong with the answer."""
    if not isinstance(variations, list):
        raise ValueError("variations is not a list")
    if len(variations) != n:
        raise ValueError(f"{len(variations)} variations instead of {n}")
    seen = {_norm(sentence)}
    kept = []
    for v in variations:
        if not isinstance(v, str) or not v.strip():
            raise ValueError("an empty or non-text variation")
        if _norm(v) in seen:
            raise ValueError(f"a repeated variation: {v.strip()!r}")
        seen.add(_norm(v))
        kept.append(v.strip())
    return [sentence, *kept]


def check_answer(text: str | None, pairs: Sequence[Pair], n: int) -> Tuple[Dict[str, List[str]], Dict[str, str]]:
    """Splits one answer into (good lists by sentence id, problem by sentence id).

    Every asked id ends up in exactly one of the two. An id given twice, an
    invented id and a missing id are problems, as is an answer that is not JSON
    of the asked shape (then every id of the request has that problem).
    """
    asked = dict(pairs)
    try:
        entries = json.loads(text or "")["sentences"]
        if not isinstance(entries, list):
            raise TypeError("sentences is not a list")
    except (ValueError, TypeError, KeyError) as exc:
        why = "empty answer" if not text else f"answer is not JSON of the asked shape ({type(exc).__name__})"
        return {}, {sid: why for sid in asked}

    given: Dict[str, List[object]] = {}
    invented = []
    for entry in entries:
        sid = str(entry.get("sentence_id")) if isinstance(entry, dict) else None
        if sid not in asked:
            invented.append(sid)
            continue
        given.setdefault(sid, []).append(entry.get("variations"))

    good: Dict[str, List[str]] = {}
    problems: Dict[str, str] = {}
    for sid, sentence in asked.items():
        answers = given.get(sid, [])
        if not answers:
            extra = f" (the answer had unknown ids {invented[:3]})" if invented else ""
            problems[sid] = f"no answer for this sentence_id{extra}"
        elif len(answers) > 1:
            problems[sid] = "answered twice"
        else:
            try:
                good[sid] = check_variations(sentence, answers[0], n)
            except ValueError as exc:
                problems[sid] = f"bad variations: {exc}"
    return good, problems


def chunks(pairs: Iterable[Pair], size: int) -> List[List[Pair]]:
    """Requests of `size` sentences, in sentence_id order so that runs are repeatable."""
    ordered = sorted(pairs)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, for messages that may quote a URL or header."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
