"""The release's README.md: a dataset card in the Hugging Face format.

A YAML header that `datasets.load_dataset(<folder>)` reads (`configs` →
`data_files` per split, `dataset_info` → features and split sizes), then the
card in a fixed order: summary, how to load, structure, splits and how they
were made, how the data was created, known limits, licence and citation.
Every number and name in it comes from the plan the files were written from
(and the file sizes from the files themselves); nothing is typed twice.

Every value that came from the metadata or the options (a category, a column's name, a
video's name, a group, a path, the citation) is written through transforms/common/safe_text.py:
a `|`, a newline or HTML in it never changes the card's shape or puts markup in it.

A split without clips is left out of the header: `datasets` cannot load an
empty split, and would refuse the whole folder.
"""
from __future__ import annotations

import json
from typing import Dict, List, Mapping

from transforms.common.safe_text import code_block, code_span, markdown_text
from transforms.duplicates.links import EXACT
from transforms.duplicates.settings import audit_settings
from transforms.features import registry
from transforms.features.version import FeatureVersion
from transforms.release import layout
from transforms.release.plan import ReleasePlan
from transforms.release.conditions import conditions_markdown
from transforms.release.plan import heldout_rule
from transforms.release.splits import BLANK_VALUE, blank_values, blank_words
from transforms.release.stats import STATS_NPZ

FEATURE_SCHEMA_JSON = "feature_schema.json"
SPLITS_CSV = "splits.csv"
README = "README.md"
CROISSANT_JSON = "croissant.json"  # written by transforms/release/croissant.py, after this card
MAX_LISTED = 50  # duplicates, moved or unpinned groups listed by name; beyond that, counted


def dataset_card(plan: ReleasePlan, shards: Mapping[str, Mapping]) -> str:
    """shards: each shard file's manifest entry (size, sha256, data_bytes)."""
    return "\n".join([_yaml_header(plan, shards), _summary(plan), _loading(plan), _structure(plan, shards),
                      _splits(plan), _creation(plan), _limits(plan), _licence(plan)]).rstrip() + "\n"


def title(plan: ReleasePlan) -> str:
    """The release's name, in the card's header and croissant.json."""
    return f"GhSL sign-language landmark features, release {plan.release_id}"


def _yaml_header(plan: ReleasePlan, shards: Mapping[str, Mapping]) -> str:
    """The YAML header `datasets` and the Hub read, rendered by PyYAML (as huggingface_hub renders its
    DatasetCardData; importing huggingface_hub itself took a fifth of a second of every release)."""
    import yaml

    present = [s for s in plan.assignment.splits if plan.shards.get(s)]
    data_bytes = {s: sum(shards[layout.shard_file(n)]["data_bytes"] for n in plan.shards[s]) for s in present}
    header = {
        "pretty_name": title(plan),
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"{layout.DATA}/{s}-*"} for s in present]}],
        "dataset_info": {"features": plan.schema.hf_features(),
                         "splits": [{"name": s, "num_bytes": data_bytes[s], "num_examples": plan.counts.clips[s]}
                                    for s in present]},
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def _version(plan: ReleasePlan) -> str:
    return plan.feature_schema["feature_version"]


def _feature_version(plan: ReleasePlan) -> FeatureVersion:
    """The version the release's features were made with: what the card says about them is its own words."""
    return registry.get(_version(plan))


def _summary(plan: ReleasePlan) -> str:
    counts, dim, dtype = plan.counts, plan.schema.dim, plan.schema.dtype
    sentences = len({c.values["sentence_id"] for c in plan.clips})
    versions = plan.run_summary.get("versions", {})
    return (f"# GhSL sign-language landmark features, release `{plan.release_id}`\n\n"
            f"{len(plan.clips)} clips of Ghanaian Sign Language ({sentences} sentences, "
            f"{len(counts.by_category)} categories, {sum(counts.frames.values())} frames) as MediaPipe Holistic "
            f"landmarks turned into features {_version(plan)}: one row per clip, its features a "
            f"(num_frames × {dim}) {dtype} array. Splits: "
            + ", ".join(f"{s} {counts.clips[s]}" for s in plan.assignment.splits)
            + f" clips, no {_group_words(plan)} in two splits. Made by the GhSL preprocessing pipeline "
              f"{versions.get('pipeline', '(version unknown)')} with MediaPipe {versions.get('mediapipe', '(unknown)')}. "
              f"This folder is immutable; `manifest.json` lists every file with its sha256.\n")


def _group_words(plan: ReleasePlan) -> str:
    columns = plan.settings.split_by
    return code_span(columns[0]) if len(columns) == 1 else "(" + ", ".join(map(code_span, columns)) + ") group"


def _loading(plan: ReleasePlan) -> str:
    card, dim = _feature_version(plan).card, plan.schema.dim
    return f"""## How to load

```python
from datasets import load_dataset

ds = load_dataset("path/to/releases/{plan.release_id}")   # {", ".join(s for s in plan.assignment.splits if plan.shards.get(s))}
train = ds["train"].with_format("numpy")
x = train[0]["features"]                                  # (num_frames, {dim}) float32
```

With pandas (each row's `features` is an array of frames; `np.stack` makes the matrix):

```python
import numpy as np
import pandas as pd

df = pd.read_parquet("path/to/releases/{plan.release_id}/data")       # every split; or one shard file
x = np.stack(df[df["split"] == "train"]["features"].iloc[0])        # (num_frames, {dim})
```

Standardize with the train split's statistics (`{STATS_NPZ}`){card.standardize_note}:

```python
import json
stats = np.load("path/to/releases/{plan.release_id}/{STATS_NPZ}")
schema = json.load(open("path/to/releases/{plan.release_id}/{FEATURE_SCHEMA_JSON}"))
{card.standardize}
```

`{CROISSANT_JSON}` describes this release in Croissant 1.1 (MLCommons), with its Responsible-AI fields; MLCommons'
`mlcroissant` reads it (one split, or every split without `filters`):

```python
import mlcroissant as mlc

ds = mlc.Dataset(jsonld="path/to/releases/{plan.release_id}/{CROISSANT_JSON}")
rows = ds.records(record_set="clips", filters={{"clips/split": "train"}})   # clips/features: (num_frames, {dim})
```

The GhSL pipeline repository has fixed-length training batches (pad or centre-crop to 64 frames, a frame mask,
standardized as above) in `transforms/release/batches.py`.
"""


def _structure(plan: ReleasePlan, shards: Mapping[str, Mapping]) -> str:
    lines = ["## Structure", "", "One row per clip, in video_file order. Fields (the same names as the Parquet "
             f"schema and `{FEATURE_SCHEMA_JSON}`'s `fields`):", ""]
    lines += [f"- {code_span(f['name'])} ({f['type']}): {f['description']}" for f in plan.schema.field_docs()]
    rows_per_shard: Dict[str, int] = {}
    for clip in plan.clips:
        rows_per_shard[clip.shard] = rows_per_shard.get(clip.shard, 0) + 1
    lines += ["", "Files:", "", "| file | content |", "|---|---|"]
    for names in plan.shards.values():
        for name in names:
            path = layout.shard_file(name)
            lines.append(f"| `{path}` | {rows_per_shard[name]} rows, {_size(shards[path]['size'])} |")
    presence = "column_presence" in plan.feature_schema
    lines += [f"| `{STATS_NPZ}` | mean and std per column over the train split only ({_stats_words(plan)}), "
              f"frame_count, video_count{''.join(', ' + n for n in _feature_version(plan).statistics_names())} |",
              f"| `{FEATURE_SCHEMA_JSON}` | the {plan.schema.dim} column names of `features`, the feature "
              f"version and its options, `dtype`, "
              f"{'`column_presence` (the presence column that masks each column), ' if presence else ''}"
              f"and every field above |",
              f"| `{SPLITS_CSV}` | {_splits_csv_words(plan)} |",
              f"| `{CROISSANT_JSON}` | this release in Croissant 1.1 (JSON-LD): every file with its sha256, the "
              f"fields, the splits, and the Responsible-AI facts |",
              f"| `{layout.MANIFEST}` | the size and sha256 of every file, and the inputs the release id is derived "
              f"from |", ""]
    return "\n".join(lines)


def _splits_csv_words(plan: ReleasePlan) -> str:
    heldout = plan.assignment.heldout
    if heldout is None:
        return "video_file, group, split of every clip"
    return (f"video_file, group, sentence_split, {markdown_text(heldout.column)}, heldout, split (its condition, or "
            f"left_out) of "
            f"every clip; as --split_file it pins both axes")


def _stats_words(plan: ReleasePlan) -> str:
    words = _feature_version(plan).card.stats_words
    return words + (", computed from the float16 values stored" if plan.schema.dtype == "float16" else "")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _splits(plan: ReleasePlan) -> str:
    s, counts, a = plan.settings, plan.counts, plan.assignment
    ratios = ", ".join(f"{split} {r:g}" for split, r in zip(("train", "validation", "test"), s.ratios))
    total = max(len(plan.clips), 1)
    lines = ["## Splits and how they were made", "",
             f"Group-disjoint by {code_span(', '.join(s.split_by))} (--split_by): a clip's group is "
             + ("its value" if len(s.split_by) == 1 else "the JSON list of those values")
             + ", and every clip of a group is in the same split. Each group's position is the first 8 bytes of "
               f"sha256(\"{s.seed}:<group>\") as a number in [0, 1) (--split_seed={s.seed}); positions below the "
               f"train ratio go to train, below train + validation to validation, the rest to test (--split_ratios: "
               f"{ratios}). A group's split depends on its own key and the seed alone, and a group an earlier release "
               "placed keeps its split (Earlier releases, below), so adding data never moves a clip already released; "
               "the ratios hold on average, not exactly.", ""]
    blanks = _blank_values(plan)
    if blanks:
        lines += ["**Blank values.** " + " ".join(markdown_text(w) for w in blanks), ""]
    lines += ["| split | clips | share | groups | frames |", "|---|---|---|---|---|"]
    lines += [f"| {split} | {counts.clips[split]} | {counts.clips[split] / total:.1%} | {counts.groups[split]} | "
              f"{counts.frames[split]} |" for split in a.splits]
    lines += ["", "Clips per category:", "", "| category | " + " | ".join(a.splits) + " |",
              "|---|" + "---|" * len(a.splits)]
    lines += [f"| {markdown_text(cat)} | " + " | ".join(str(by[split]) for split in a.splits) + " |"
              for cat, by in counts.by_category.items()]
    lines += [""] + duplicate_lines(plan) + [""] + text_lines(plan)
    if a.moved:
        lines += ["", f"Groups that left their own split to stay with a group sharing a recording or a sentence text "
                      f"({len(a.moved)}):", ""]
        lines += [f"- {code_span(m.group)}: {m.own_split} → {m.split} (with {code_span(m.decided_by)})"
                  for m in a.moved[:MAX_LISTED]]
        lines += _more(a.moved)
    lines += [""] + history_lines(plan) + [""] + dropped_lines(plan)
    if s.split_file:
        lines += ["", f"**Pinned splits.** {code_span(s.split_file)} (--split_file) pins {a.pinned_groups} of the "
                      f"{sum(counts.groups.values())} groups. Groups it does not name follow the rule above "
                      f"({len(a.unpinned)}){':' if a.unpinned else '.'}"]
        if a.unpinned:
            lines += [""] + [f"- {code_span(g)} → {_split_of_group(plan, g)}" for g in a.unpinned[:MAX_LISTED]]
            lines += _more(a.unpinned)
    lines += ["", conditions_markdown([c.values for c in plan.clips], a.splits, s.split_by, s.heldout_by,
                                      list(a.left_out.values()), a.heldout, heldout_rule(s, None), s.seed).rstrip()]
    if a.heldout is None:
        lines += ["", "**One axis.** Every value of every other column (signers included) may be in train and in "
                      "test: this release measures unseen sentences by seen people. Build one with --heldout_by "
                      "(docs/release.md, Evaluation conditions) for unseen signers."]
    small = counts.small(s.ratios)
    if small:
        lines += ["", "**Small splits.**", ""] + [f"- {split}: {why}." for split, why in small]
        if any(why.startswith("empty") for _, why in small):
            lines += ["", "An empty split has no file and is not declared in the header above (`datasets` cannot "
                          "load an empty split), so `load_dataset` returns only the others."]
    return "\n".join(lines) + "\n"


def duplicate_lines(plan: ReleasePlan) -> List[str]:
    """The card's "Duplicate recordings" paragraph and its list of families."""
    a, audit, settings = plan.assignment, plan.audit, audit_settings()
    how = {r.video_file: r for r in audit.rows} if audit is not None else {}
    sides = " (nor in train and a held-out condition: a held-out value's copies of a seen recording are left out)" \
        if a.heldout is not None else ""
    exact = sum(1 for r in how.values() if r.kind == EXACT)
    lines = [f"**Duplicate recordings.** The duplicate audit ({settings['version']}, threshold {settings['threshold']:g}) "
             "links the clips that are one recording: exact copies (the same landmark file, by its sha256) and near "
             "copies (the same movement, read from the landmarks in either orientation: a re-encoded, downscaled, "
             "trimmed, mirrored or frame-rate-converted copy; similarity from the threshold to 1). A family of copies "
             "is one recording: the groups it touches are assigned together, to the split of the best-ranked one "
             "(a pinned group first, then a group an earlier release placed, then the lowest position), so a family "
             f"is never on two sides of a split{sides}. "]
    if not a.duplicates:
        return [lines[0] + "None here."]
    lines[0] += (f"{len(a.duplicates)} families here, {len(how)} copies ({exact} exact, {len(how) - exact} near), "
                 f"each listed with its split and how its copies were linked:")
    lines.append("")
    for d in a.duplicates[:MAX_LISTED]:
        copies = "; ".join(_copy_words(how[v]) for v in d.video_files if v in how)
        out = f" (left out: {', '.join(map(code_span, d.left_out))})" if d.left_out else ""
        lines.append(f"- {', '.join(map(code_span, d.video_files))} → {d.split}{out}"
                     + (f" — {copies}" if copies else ""))
    return lines + _more(a.duplicates)


def _copy_words(row) -> str:
    if row.kind == EXACT:
        return f"{code_span(row.video_file)} exact"
    return (f"{code_span(row.video_file)} near {row.similarity:.3f}" + (", mirrored" if row.mirrored else "")
            + ("" if row.linked_to == row.duplicate_of else f", through {code_span(row.linked_to)}"))


def text_lines(plan: ReleasePlan) -> List[str]:
    """The card's "Sentences with the same text" paragraph."""
    groups = plan.audit.text_groups if plan.audit is not None else ()
    lines = ["**Sentences with the same text.** Sentence ids whose texts are the same after normalization (Unicode "
             "form, case, spacing and punctuation, but a question mark, which makes a question of a statement) are "
             "one sentence typed twice. "]
    by_sentence = "sentence_id" in plan.settings.split_by
    lines[0] += ("Their groups are assigned together, like a family, so that the sentence is not trained on under "
                 "one id and tested under another. " if by_sentence else
                 "The split is not by sentence_id, so they are reported only. ")
    if not groups:
        return [lines[0] + "None here."]
    split_of: Dict[str, set] = {}
    for c in plan.clips:
        split_of.setdefault(str(c.values["sentence_id"]), set()).add(c.split)
    lines[0] += f"{len(groups)} group(s) of ids here:"
    lines.append("")
    for g in groups[:MAX_LISTED]:
        splits = sorted(set().union(*(split_of.get(sid, set()) for sid in g.sentence_ids)))
        lines.append(f"- {', '.join(map(code_span, g.sentence_ids))}: {' / '.join(map(code_span, g.texts))}"
                     + (f" → {', '.join(splits)}" if splits else ""))
    return lines + _more(list(groups))


def history_lines(plan: ReleasePlan) -> List[str]:
    """The card's "Earlier releases" paragraph: what this release was cut after, and the rows that moved."""
    previous, moved = plan.cut_from.get("release_id"), plan.cut_from.get("moved") or []
    if previous is None:
        return ["**Earlier releases.** No earlier release with these split options was found here when this release "
                "was cut: every group took its own split (its pin, else its position)."]
    lines = [f"**Earlier releases.** Cut after release {code_span(previous)}, the latest of the same split options: "
             f"every group it placed kept its split, so a clip it released moves only when a family of copies or "
             f"of sentence ids joins groups it had put in different splits (copies first found among released "
             f"clips). "]
    if not moved:
        return [lines[0] + "None of its rows moved."]
    lines[0] += f"{len(moved)} of its rows moved:"
    return lines + [""] + [f"- {code_span(v)}: {before} → {now}" for v, before, now in moved[:MAX_LISTED]] + _more(moved)


def dropped_lines(plan: ReleasePlan) -> List[str]:
    dropped = plan.assignment.dropped
    if not plan.settings.drop_duplicates:
        return ["**Copies kept.** Every copy is released, each family in one split (--drop_duplicates would keep one "
                "clip of each)."]
    lines = ["**Dropped copies (--drop_duplicates).** One clip of each family is released: the earliest video_file "
             "among its clips in a split; the others (exact copies, and near copies at or above the threshold) are "
             f"not in this release, nor in {SPLITS_CSV}. "]
    if not dropped:
        return [lines[0] + "None here."]
    lines[0] += f"{len(dropped)} dropped:"
    items = sorted(dropped.items())
    return lines + [""] + [f"- {code_span(v)} (a copy of {code_span(kept)})" for v, kept in items[:MAX_LISTED]] \
        + _more(items)


def _blank_values(plan: ReleasePlan) -> List[str]:
    """What the splits did with blank values of the --split_by and --heldout_by columns (splits.blank_words):
    counted over the clips released, and the clips left out for a blank held-out value."""
    s = plan.settings
    counts = blank_values([c.values for c in plan.clips], s.split_by)
    if s.heldout_by:
        counts[s.heldout_by] = sum(1 for o in plan.assignment.left_out.values() if o.kind == BLANK_VALUE)
    return blank_words(counts, s.split_by, s.heldout_by)


def _split_of_group(plan: ReleasePlan, group: str) -> str:
    return next(plan.assignment.split[v] for v, g in plan.assignment.group.items() if g == group)


def _more(items: List) -> List[str]:
    return [f"- … and {len(items) - MAX_LISTED} more (see `{SPLITS_CSV}`)"] if len(items) > MAX_LISTED else []


def _creation(plan: ReleasePlan) -> str:
    summary, fs = plan.run_summary, plan.feature_schema
    config, versions = summary.get("config", {}), summary.get("versions", {})
    definition = _feature_version(plan).card.definition
    landmark = {k: config[k] for k in ("model_complexity", "min_detection_confidence", "min_tracking_confidence",
                                       "refine_face_landmarks", "smooth_landmarks") if k in config}
    lines = ["## How the data was created", "",
             f"Each video went through MediaPipe Holistic frame by frame; its landmarks were normalized around the "
             f"torso, smoothed and judged for quality by feature definition {definition}. Clips the quality rules "
             f"rejected are not here (see the run's `proc/low_quality_videos.csv`). Source metadata: "
             f"{code_span(config.get('metadata_csv', 'unknown'))}.", "",
             "| | |", "|---|---|"]
    lines += [f"| {k} | {code_span(json.dumps(v))} |" for k, v in fs["options"].items()]
    lines += [f"| {k} | {code_span(json.dumps(v))} |" for k, v in landmark.items()]
    lines += [f"| {k} | {code_span(json.dumps(v))} |" for k, v in plan.settings.as_dict().items()]
    lines += [f"| duplicate audit | {code_span(json.dumps(audit_settings()))} |"]
    lines += [f"| version of {k} | {v} |" for k, v in versions.items()]
    lines += ["", f"The release id `{plan.release_id}` is the start of the sha256 of the inputs in `{layout.MANIFEST}` "
                  "(the metadata rows, each clip's feature fingerprint and landmark sha256, the options): the same "
                  "inputs give the same id.", ""]
    return "\n".join(lines)


def _limits(plan: ReleasePlan) -> str:
    lines = ["## Known limits", ""]
    lines += [f"- {line}" for line in _feature_version(plan).card.limits]
    if plan.schema.dtype == "float16":
        lines += ["- The arrays are float16 (about 3 significant digits; relative rounding up to 5e-4)."]
    lines += ["- Splits come from a hash of each group: with few groups a split's share can be far from its ratio.",
              "- Copies are found from the landmarks (the pipeline's docs/duplicates.md): a copy sped up or slowed "
              "down, cut by more than 30% of its length, rotated, or degraded until MediaPipe loses the body is not "
              "found, and clips that hardly move are linked only when they are the same file. A re-take is another "
              "recording and is not linked.",
              f"- Signers are only kept apart if a column names them and --split_by uses it; this release splits by "
              f"{code_span(', '.join(plan.settings.split_by))}.", ""]
    return "\n".join(lines)


def _licence(plan: ReleasePlan) -> str:
    s = plan.settings
    licence = (markdown_text(s.license) + " (--release_license)" if s.license else
               "_To be completed by the dataset's owners (--release_license): the licence of the videos these "
               "features were made from applies._")
    citation = (code_block(s.citation) if s.citation else
                "_To be completed by the dataset's owners (--release_citation)._")
    return f"## Licence\n\n{licence}\n\n## Citation\n\n{citation}\n"

