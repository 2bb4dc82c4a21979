"""croissant.json: the release described in Croissant 1.1 (MLCommons' JSON-LD for ML datasets) with the Croissant
Responsible-AI (RAI) vocabulary, so that MLCommons' `mlcroissant`, or any Croissant reader, validates and opens it.

Everything comes from the plan the release's files were written from (and the files' manifest entries), as
dicts and lists dumped by json.dumps(allow_nan=False); nothing is typed twice:

  dataset        name, description, identifier and version (the release id), url (where the release was
                 written: its gs:// URI as given, or a placeholder for a local folder), licence and citation
                 (--release_license, --release_citation, or placeholders), datePublished (the manifest's
                 created_at), conformsTo Croissant 1.1 and Croissant RAI 1.0
  distribution   one FileObject per file of the folder but manifest.json (written after this file, it lists
                 it), with the size and sha256 of its manifest entry and its path relative to the folder, so
                 the folder can move or be uploaded as it is; and one FileSet of the Parquet shards, which the
                 records are read from
  recordSet      `clips`: one record per clip, one field per release field (schema.py: the names, types and
                 meanings of the Parquet schema, feature_schema.json and the card), `features` an array of
                 frames (-1 × dim); its `split` field is read from the shard's file name (equal to the
                 column), so a reader can load one split alone (mlcroissant: filters={"clips/split": "train"}),
                 and references
                 `splits`: the splits (cr:Split), each with what it measures and its counts, measured from the
                 rows as the card measures them (conditions.py);
                 `feature_columns`: the name of every column of `features` (feature_schema.json's `columns`)
  rai:*          how the data was collected and processed, personal and sensitive information, biases and
                 limits (counted from the rows and the run summary), intended use, maintenance

Nothing here branches on the feature version: widths, dtype, column names and field meanings are the values
of the release's schema and feature_schema.json.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Dict, List, Mapping, Optional, Sequence
from urllib.parse import quote

from transforms.common import storage
from transforms.duplicates.settings import audit_settings
from transforms.landmarks.holistic import LANDMARK_OPTIONS
from transforms.release import layout
from transforms.release.card import FEATURE_SCHEMA_JSON, README, SPLITS_CSV, title
from transforms.release.conditions import CONDITIONS, overlaps, summarize
from transforms.release.plan import ReleasePlan
from transforms.release.schema import ADDED, FEATURES, SPLIT, TEXT_VARIATIONS, Field, ReleaseSchema, metadata_columns
from transforms.release.stats import STATS_NPZ

CONFORMS_TO = ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]
# The JSON-LD context of Croissant 1.1 as mlcroissant 1.1.1 writes it (a reader warns when a key is missing).
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

CLIPS = "clips"
SPLITS = "splits"
FEATURE_COLUMNS = "feature_columns"
SHARDS = "parquet-shards"
PARQUET = "application/x-parquet"
# Croissant asks for MAJOR.MINOR.PATCH. A release is never re-versioned (a change is a new release, with a new
# id), so each is 1.0.0 of its own content, and the build metadata after "+" (the id) tells releases apart.
VERSION = "1.0.0+{release_id}"
# RFC 2606 reserves .invalid: a placeholder no reader can mistake for where the release lives.
LOCAL_URL = "https://release-location-not-set.invalid/releases/{release_id}"
LICENSE_NOT_SET = ("Not set (--release_license was empty): the licence of the source videos applies; ask the "
                   "dataset's owners before any use.")
CITATION_NOT_SET = "Not set (--release_citation was empty): cite the source dataset as its owners ask."
LANGUAGES = ["gse", "en"]  # ISO 639-3 Ghanaian Sign Language (the clips), English (the sentences)
KEYWORDS = ["sign language", "Ghanaian Sign Language", "GhSL", "pose", "landmarks", "MediaPipe Holistic",
            "sign language translation"]
SPLIT_URLS = {"train": "cr:TrainingSplit", "validation": "cr:ValidationSplit"}  # every other split tests
_DATA_TYPES = {"string": "sc:Text", "bool": "sc:Boolean", "int32": "cr:Int32", "int64": "cr:Int64",
               "float64": "cr:Float64", "strings": "sc:Text"}
_FILES = {  # the release's small files: (encoding format, what it holds)
    STATS_NPZ: ("application/x-npz", "Mean and std of every column of `features` over the train split only, "
                                     "frame_count, video_count (NumPy .npz)."),
    FEATURE_SCHEMA_JSON: ("application/json", "The name of every column of `features`, the feature version and "
                                              "its options, the dtype, and every field of a record."),
    SPLITS_CSV: ("text/csv", "Every clip's group and split (with a held-out axis: its value, whether it is held "
                             "out, and left_out for a clip in no split); as --split_file it freezes the splits."),
    README: ("text/markdown", "The dataset card (Hugging Face format): how to load, structure, splits, how the "
                              "data was created, known limits, licence and citation."),
}
MAX_LISTED = 50  # signers and categories listed by name; beyond that, counted


def croissant_json(plan: ReleasePlan, files: Mapping[str, Mapping], output_dir: str, published_at: str) -> bytes:
    """The file's bytes. files: every file written before it (path in the folder → manifest entry)."""
    document = croissant(plan, files, output_dir, published_at)
    return (json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def croissant(plan: ReleasePlan, files: Mapping[str, Mapping], output_dir: str, published_at: str) -> dict:
    settings = plan.settings
    location = release_location(output_dir, plan.release_id)
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": title(plan),
        "description": _description(plan, location),
        "identifier": plan.release_id,
        "version": VERSION.format(release_id=plan.release_id),
        "url": location or LOCAL_URL.format(release_id=plan.release_id),
        "license": settings.license or LICENSE_NOT_SET,
        "citeAs": settings.citation or CITATION_NOT_SET,
        "datePublished": published_at,
        "inLanguage": LANGUAGES,
        "keywords": KEYWORDS,
        "distribution": _distribution(plan, files),
        "recordSet": [_splits_record_set(plan), _clips_record_set(plan), _columns_record_set(plan)],
        **responsible_ai(plan),
    }


def release_location(output_dir: str, release_id: str) -> Optional[str]:
    """The release folder as the user gave the output folder (a gs:// URI); None for a local folder, whose path
    says nothing once the folder is moved or uploaded."""
    return None if storage.is_local(output_dir) else layout.release_dir(output_dir, release_id)


def field_id(record_set: str, name: str) -> str:
    """A field's @id: an IRI, so a metadata column's name is percent-encoded in it (its `name` stays as is)."""
    return f"{record_set}/{quote(name, safe='')}"


def _description(plan: ReleasePlan, location: Optional[str]) -> str:
    counts, schema = plan.counts, plan.schema
    sentences = len({c.values["sentence_id"] for c in plan.clips})
    where = (f"Written to {location}." if location else
             "Written to a local folder: `url` is a placeholder (.invalid); the files' paths are relative to this "
             "file, so the folder reads the same wherever it is copied.")
    return (f"{len(plan.clips)} clips of Ghanaian Sign Language ({sentences} sentences, {len(counts.by_category)} "
            f"categories, {sum(counts.frames.values())} frames) as MediaPipe Holistic landmarks turned into "
            f"features {schema.feature_version}: one record per clip, its `features` a (num_frames x {schema.dim}) "
            f"{schema.dtype} array. Splits: "
            + ", ".join(f"{s} {counts.clips[s]}" for s in plan.assignment.splits) + " clips. "
            + " ".join(split_policy(plan)) + f" Release {plan.release_id} of the GhSL preprocessing pipeline: the "
            f"folder is immutable and manifest.json lists every file with its sha256. {where}")


# --- distribution ---------------------------------------------------------------------------------------------

def _distribution(plan: ReleasePlan, files: Mapping[str, Mapping]) -> List[dict]:
    rows = Counter(c.shard for c in plan.clips)
    shards = {layout.shard_file(name): (split, rows[name]) for split, names in plan.shards.items() for name in names}
    out = []
    for path in sorted(files):
        if path in shards:
            split, n = shards[path]
            out.append(_file_object(path, files[path], PARQUET, f"{n} clip(s) of the {split} split, in video_file "
                                                                f"order (Parquet, zstd)."))
        else:
            encoding, what = _FILES[path]
            out.append(_file_object(path, files[path], encoding, what))
    out.append({"@type": "cr:FileSet", "@id": SHARDS, "name": SHARDS, "encodingFormat": PARQUET,
                "description": "Every Parquet shard of the release (the FileObjects above, with their sha256): "
                               "data/<split>-<index>-of-<count>.parquet. The records of `clips` are read from "
                               "them.",
                "includes": f"{layout.DATA}/*{layout.SHARD_SUFFIX}"})
    return out


def _file_object(path: str, entry: Mapping, encoding: str, description: str) -> dict:
    return {"@type": "cr:FileObject", "@id": path, "name": path, "description": description, "contentUrl": path,
            "contentSize": f"{entry['size']} B", "encodingFormat": encoding, "sha256": entry["sha256"]}


# --- record sets ----------------------------------------------------------------------------------------------

def _clips_record_set(plan: ReleasePlan) -> dict:
    schema = plan.schema
    return {"@type": "cr:RecordSet", "@id": CLIPS, "name": CLIPS,
            "description": "One record per clip, in video_file order within each split; the same fields, names "
                           "and meanings as the Parquet schema, feature_schema.json's `fields` and the card.",
            "key": {"@id": field_id(CLIPS, "video_file")},
            "field": [_field(schema, f, plan.assignment.splits) for f in schema.fields]}


def _field(schema: ReleaseSchema, f: Field, splits: Sequence[str]) -> dict:
    out = {"@type": "cr:Field", "@id": field_id(CLIPS, f.name), "name": f.name, "description": f.description,
           "dataType": _data_type(schema, f)}
    if f.name == SPLIT:
        out["source"] = {"fileSet": {"@id": SHARDS}, "extract": {"fileProperty": "fullpath"},
                         "transform": {"regex": split_regex(splits)}}
        out["references"] = {"field": {"@id": field_id(SPLITS, "name")}}
    else:
        out["source"] = {"fileSet": {"@id": SHARDS}, "extract": {"column": f.name}}
    if f.kind == "frames":
        out.update(isArray=True, arrayShape=f"-1,{schema.dim}")
    elif f.kind == "strings":
        out.update(isArray=True, arrayShape="-1")
    return out


def _data_type(schema: ReleaseSchema, f: Field) -> str:
    if f.kind == "frames":
        return "cr:" + schema.dtype.capitalize()   # cr:Float32, cr:Float16
    return _DATA_TYPES[f.kind]


def split_regex(splits: Sequence[str]) -> str:
    """The split of a shard from its path (layout.shard_file).

    mlcroissant turns this regex into the glob that picks a split's files (it knows `.+`, not `\\d`, and
    expands optional `(?:…)?` groups), and when it joins the field with `splits` it applies the regex a second
    time, to the split's name: the optional groups let the name match itself."""
    names = "|".join(re.escape(s) for s in splits)
    return f"^(?:{re.escape(layout.DATA)}/)?({names})(?:-.+{re.escape(layout.SHARD_SUFFIX)})?$"


def _splits_record_set(plan: ReleasePlan) -> dict:
    s = plan.settings
    rows = [c.values for c in plan.clips]
    splits = plan.assignment.splits
    summaries = {x.split: x for x in summarize(rows, splits, s.heldout_by)}
    shared = {o.split: o for o in overlaps(rows, splits, s.split_by, s.heldout_by)}
    fields = [("name", "sc:Text", "The split's name: the value of `clips/split`."),
              ("url", "sc:URL", "What kind of split it is: cr:TrainingSplit, cr:ValidationSplit or cr:TestSplit."),
              ("description", "sc:Text", "Who and what it holds, and what it measures."),
              ("clips", "cr:Int64", "Clips in the split."),
              ("frames", "cr:Int64", "Frames of its clips."),
              ("sentences", "cr:Int64", "Distinct sentence_id values."),
              ("categories", "cr:Int64", "Distinct categories.")]
    if s.heldout_by:
        fields.append(("heldout_values", "cr:Int64", f"Distinct values of `{s.heldout_by}` (--heldout_by)."))
    data = []
    for split in splits:
        found = summaries[split]
        row = {"name": split, "url": SPLIT_URLS.get(split, "cr:TestSplit"),
               "description": _split_words(plan, split, shared.get(split)), "clips": found.clips,
               "frames": found.frames, "sentences": found.sentences, "categories": found.categories}
        if s.heldout_by:
            row["heldout_values"] = found.values
        data.append({field_id(SPLITS, k): v for k, v in row.items()})
    return {"@type": "cr:RecordSet", "@id": SPLITS, "name": SPLITS, "dataType": "cr:Split",
            "description": "The release's splits, each an evaluation condition, counted from the rows. "
                           + " ".join(split_policy(plan)),
            "key": {"@id": field_id(SPLITS, "name")},
            "field": [{"@type": "cr:Field", "@id": field_id(SPLITS, name), "name": name, "description": text,
                       "dataType": data_type} for name, data_type, text in fields],
            "data": data}


def _split_words(plan: ReleasePlan, split: str, shared) -> str:
    s = plan.settings
    values, sentences, use = CONDITIONS[split]
    words = (f"{split}: " + (f"{s.heldout_by} values {values}; " if s.heldout_by else "")
             + f"{sentences}; measures {use}.")
    if shared is not None:
        words += f" Shares {shared.shared_groups} {', '.join(s.split_by)} group(s) with train"
        words += " (the rule promises 0)" if shared.groups_promised_zero else ""
        if s.heldout_by:
            words += (f" and {shared.shared_values} {s.heldout_by} value(s)"
                      + (" (the rule promises 0)" if shared.values_promised_zero else ""))
        words += "."
    if plan.counts.clips[split] == 0:
        words += " Empty: it has no file, and README.md's header does not declare it."
    return words


def _columns_record_set(plan: ReleasePlan) -> dict:
    fs = plan.feature_schema
    fields = [("index", "cr:Int32", "The column's index in each frame of `features`."),
              ("name", "sc:Text", "Its name, as in feature_schema.json: <part>_<point>_<coordinate> for a landmark "
                                  "coordinate, otherwise a column of its own (see the `features` field).")]
    presence = fs.get("column_presence")
    if presence is not None:
        fields.append(("presence_column", "cr:Int32", "The index of the column saying whether this column's part "
                                                      "was seen in the frame (1.0) or not (0.0); -1: none."))
    data = []
    for i, name in enumerate(fs["columns"]):
        row = {"index": i, "name": name}
        if presence is not None:
            row["presence_column"] = presence[i]
        data.append({field_id(FEATURE_COLUMNS, k): v for k, v in row.items()})
    return {"@type": "cr:RecordSet", "@id": FEATURE_COLUMNS, "name": FEATURE_COLUMNS,
            "description": f"The {plan.schema.dim} columns of every frame of `clips/features`, in order.",
            "key": {"@id": field_id(FEATURE_COLUMNS, "index")},
            "field": [{"@type": "cr:Field", "@id": field_id(FEATURE_COLUMNS, name), "name": name,
                       "description": text, "dataType": data_type} for name, data_type, text in fields],
            "data": data}


def split_policy(plan: ReleasePlan) -> List[str]:
    """How the splits were made, in sentences (docs/release.md, How the splits are made; Evaluation conditions)."""
    s, a = plan.settings, plan.assignment
    ratios = ", ".join(f"{split} {r:g}" for split, r in zip(("train", "validation", "test"), s.ratios))
    out = [f"Splits are disjoint by group: a clip's group is its {', '.join(s.split_by)} (--split_by), and every clip "
           f"of a group is in the same split, placed by the first 8 bytes of sha256(\"{s.seed}:<group>\") against "
           f"the ratios {ratios} (--split_ratios, --split_seed={s.seed}), so adding data never moves a released "
           f"clip (a group an earlier release placed keeps its split); clips that are copies of one recording "
           f"(the same landmark file, or the same movement found by the duplicate audit "
           f"{audit_settings()['version']} at threshold {audit_settings()['threshold']:g}) share a split, and so do "
           f"sentence ids with the same text when the split is by sentence_id."]
    if plan.cut_from.get("moved"):
        out.append(f"{len(plan.cut_from['moved'])} clips of the previous release {plan.cut_from['release_id']} moved "
                   f"split, their families of copies first found among released clips (the card lists them).")
    if plan.settings.drop_duplicates:
        out.append(f"One clip of each family of copies is released (--drop_duplicates): "
                   f"{len(plan.assignment.dropped)} copies dropped.")
    if s.split_file:
        out.append(f"A split file (--split_file) pins {a.pinned_groups} of the groups; the others follow the rule.")
    heldout = a.heldout
    if heldout is None:
        out.append("One axis: every value of every other column, signers included, may be in train and in test, so "
                   "the test split measures new sentences by people the model has seen.")
    else:
        how = (f"fold {heldout.fold} (--heldout_fold) holds out value {heldout.fold} of that order"
               if heldout.fold is not None else f"the first {len(heldout.by_rule)} of that order are held out "
                                                f"(--heldout_size)")
        out.append(f"Held-out axis (--heldout_by={heldout.column}): its values are ordered by "
                   f"sha256(\"{s.seed}:heldout:<value>\") and {how}, unless --split_file pins them; held out of "
                   f"training: {', '.join(heldout.held)}; seen: {', '.join(heldout.seen)}. A held-out value's "
                   f"clip with a train sentence is in test_unseen_signers, with a test sentence in test_unseen_both, "
                   f"with a validation sentence (or with a blank {heldout.column}) in no split ({len(a.left_out)} "
                   f"clip(s) left out, listed in "
                   f"splits.csv and the card). Report test, test_unseen_signers and test_unseen_both side "
                   f"by side; choose models on validation only.")
    return out


# --- Responsible AI -------------------------------------------------------------------------------------------

def responsible_ai(plan: ReleasePlan) -> Dict[str, object]:
    """The rai: properties (Croissant RAI 1.0), from the plan's values and the run summary's counts."""
    summary = plan.run_summary
    config, versions = summary.get("config", {}), summary.get("versions", {})
    mediapipe = f"MediaPipe Holistic {versions.get('mediapipe', '(version unknown)')}"
    landmarks = _options(config, LANDMARK_OPTIONS)
    features = _options(plan.feature_schema["options"])
    made_by = ", ".join(f"{k} {v}" for k, v in versions.items())
    tools = [f"{mediapipe}: the pose, hand and face landmarks of every frame ({landmarks})."]
    if TEXT_VARIATIONS in plan.schema.names:
        tools.append("Gemini (pipeline.augment_text): the rephrasings in `text_variations`.")
    return {
        "rai:dataCollection": (
            f"Videos of people signing sentences, listed one per row in the metadata file "
            f"`{config.get('metadata_csv', 'unknown')}` with the sentence, its id and category. The GhSL "
            f"preprocessing pipeline decoded each video frame by frame, ran {mediapipe} on every frame ({landmarks}) "
            f"and turned the landmarks into features {plan.schema.feature_version} ({features}); versions: "
            f"{made_by}. These are the run's own records (run_summary.json, feature_schema.json)."),
        "rai:dataCollectionType": ["Secondary Data analysis", "Software Collection"],
        "rai:dataCollectionRawData": (
            f"Sign language videos and their metadata (`{config.get('metadata_csv', 'unknown')}`). The videos are "
            f"not in this release; `video_file` names each clip's source video."),
        "rai:dataCollectionMissingData": " ".join([_rejected_words(plan)] + _left_out_words(plan) + [
            "Within a clip, a part MediaPipe did not find in a frame is stored as the `features` field says."]),
        "rai:dataPreprocessingProtocol": _preprocessing(plan, mediapipe, landmarks, features),
        "rai:dataAnnotationProtocol": _annotation(plan, config),
        "rai:machineAnnotationTools": tools,
        "rai:personalSensitiveInformation": _personal(plan),
        "rai:dataBiases": _biases(plan),
        "rai:dataLimitations": _limitations(plan),
        "rai:dataUseCases": _use_cases(plan),
        "rai:dataSocialImpact": (
            "Meant for tools that help Deaf people who sign Ghanaian Sign Language communicate with people who do "
            "not, such as healthcare staff. A model trained on few signers can fail for people unlike them, and "
            "the landmarks could be misused to identify the signers."),
        "rai:dataReleaseMaintenancePlan": (
            f"Immutable and content-addressed: release {plan.release_id} is never modified or deleted. New data "
            f"or other options make a new release, with its own id, beside it in releases/; releases/latest.json "
            f"names the newest. manifest.json lists every file's sha256 and the inputs the id is derived from."),
    }


def _options(values: Mapping[str, object], names: Optional[Sequence[str]] = None) -> str:
    chosen = [(k, values[k]) for k in (names or values) if k in values]
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in chosen) or "options not recorded"


def _rejected_words(plan: ReleasePlan) -> str:
    counts = plan.run_summary.get("counts", {})
    rows = plan.run_summary.get("rows", sum(counts.get(k, 0) for k in ("success", "low_quality", "failed", "missing")))
    return (f"Of the run's {rows} metadata row(s), {counts.get('success', 0)} clip(s) were saved "
            f"({counts.get('kept_low', 0)} of them although the quality rules rejected them, --keep_low_quality, "
            f"flagged in `quality_flag`), {counts.get('low_quality', 0)} were rejected by the quality rules, "
            f"{counts.get('failed', 0)} failed and {counts.get('missing', 0)} had no video (run_summary.json's "
            f"counts); rejected, failed and missing clips are not in this release.")


def _left_out_words(plan: ReleasePlan) -> List[str]:
    if plan.assignment.heldout is None:
        return []
    return [f"{len(plan.assignment.left_out)} saved clip(s) are in no split (held-out values with a validation "
            f"sentence, copies of a seen recording, or a blank held-out value; splits.csv and the card list them)."]


def _preprocessing(plan: ReleasePlan, mediapipe: str, landmarks: str, features: str) -> List[str]:
    fields = {f.name: f for f in plan.schema.fields}
    return [
        f"Landmarks: {mediapipe} on every decoded frame ({landmarks}).",
        f"Features {plan.schema.feature_version} from the landmarks ({features}). num_frames: "
        f"{fields['num_frames'].description} features: {fields[FEATURES].description}",
        f"Quality gates: the feature options above (thresholds such as min_frames) reject clips. "
        f"{_rejected_words(plan)}",
        f"Arrays stored as {plan.schema.dtype}; statistics (stats.npz) over the train split only.",
        *split_policy(plan),
    ]


def _annotation(plan: ReleasePlan, config: Mapping[str, object]) -> List[str]:
    out = [f"sentence, sentence_id and category are the metadata file's (`{config.get('metadata_csv', 'unknown')}`), "
           f"as its authors wrote them; this pipeline adds no human label."]
    if TEXT_VARIATIONS in plan.schema.names:
        text = next(f.description for f in plan.schema.fields if f.name == TEXT_VARIATIONS)
        out.append(f"text_variations: {text}")
    return out


def landmark_points(columns: Sequence[str]) -> Dict[str, int]:
    """part → points per frame, counted from feature_schema.json's column names (<part>_<point>_<coordinate>)."""
    points: Dict[str, set] = {}
    for column in columns:
        pieces = column.rsplit("_", 2)
        if len(pieces) == 3 and pieces[1].isdigit():
            points.setdefault(pieces[0], set()).add(pieces[1])
    return {part: len(found) for part, found in points.items()}


def signer_column(plan: ReleasePlan) -> Optional[str]:
    """The column that names the signer: --heldout_by, else a column named signer; None when neither exists."""
    if plan.settings.heldout_by:
        return plan.settings.heldout_by
    return "signer" if "signer" in plan.schema.names else None


def _personal(plan: ReleasePlan) -> List[str]:
    points = landmark_points(plan.feature_schema["columns"])
    listed = ", ".join(f"{n} {part.replace('_', ' ')}" for part, n in points.items())
    face = plan.feature_schema["options"].get("face_downsample")
    kept = [c for c in metadata_columns(plan.schema.names) if c not in ADDED]
    column = signer_column(plan)
    out = [
        f"Biometric-like data of identifiable people: every frame keeps the 3-D landmarks of the signer's body, "
        f"hands and face ({listed} points). Face and hand geometry and the way a person signs can identify them: "
        f"treat the landmarks as personal data of the signers (biometric data where used to identify someone, "
        f"GDPR Art. 9).",
        "Kept: those landmark coordinates" + (f" (the face as every {face}th point of MediaPipe's 468-point face "
                                              f"mesh, --face_downsample)" if face else "")
        + f", per-clip quality measures and the metadata columns {', '.join(kept)}. Dropped: every pixel; no image, "
          f"video or audio of anyone is in this release, and the landmark files in image coordinates (.pose) stay "
          f"in the pipeline's output folder.",
    ]
    if column:
        values = {str(c.values[column]) for c in plan.clips}
        out.append(f"Signers appear only as the {len(values)} value(s) of `{column}`, as the metadata wrote them; "
                   f"the release holds no names.")
    else:
        out.append("No column of this release is known to name the signer, but `video_file` and the metadata "
                   "columns may still encode who signed.")
    return out


def _shares(counter: Counter, total: int) -> str:
    listed = [f"{value} {n} ({n / max(total, 1):.1%})" for value, n in counter.most_common(MAX_LISTED)]
    if len(counter) > MAX_LISTED:
        listed.append(f"and {len(counter) - MAX_LISTED} more")
    return ", ".join(listed)


def _biases(plan: ReleasePlan) -> List[str]:
    total, column = len(plan.clips), signer_column(plan)
    if column:
        signers = Counter(str(c.values[column]) for c in plan.clips)
        how = "--heldout_by" if column == plan.settings.heldout_by else "a column named signer"
        out = [f"Signers: {len(signers)} (values of `{column}`, {how}); share of this release's {total} clip(s): "
               f"{_shares(signers, total)}. A model learns these people's signing, which may not carry over to "
               f"others."]
    else:
        out = ["Signers: unknown. No --heldout_by column and no column named signer, so how many people signed "
               "and each one's share of the clips cannot be measured here; with few signers a model learns their "
               "signing, not the language."]
    categories = Counter({cat: sum(by.values()) for cat, by in plan.counts.by_category.items()})
    out.append(f"Clips per category: {_shares(categories, total)}.")
    hands = plan.run_summary.get("dominant_hands")
    if hands:
        out.append("Dominant hand (the hand that moves most, as filmed) of the run's saved clips: "
                   + ", ".join(f"{hand} {n}" for hand, n in hands.items()) + ".")
    if plan.assignment.heldout is None:
        out.append("One-axis splits: signers are not kept apart, so scores on test overstate how a model does for "
                   "people it has not seen.")
    return out


def _limitations(plan: ReleasePlan) -> List[str]:
    out = [_rejected_words(plan)]
    out += [f"Small split {split}: {why}." for split, why in plan.counts.small(plan.settings.ratios)]
    if plan.schema.dtype == "float16":
        out.append("The arrays are float16: about 3 significant digits (relative rounding up to 5e-4).")
    rates = plan.run_summary.get("presence_rates") or {}
    if rates:
        out.append("Share of the run's saved frames in which each part was seen: "
                   + ", ".join(f"{part} {rate:.1%}" for part, rate in rates.items()) + ".")
    out += ["Copies of a recording are found from its landmarks: a copy sped up or slowed down, cut by more than 30% "
            "of its length, rotated or degraded until MediaPipe loses the body is not found; a re-take is another "
            "recording and is not linked.",
            f"The card (README.md, Known limits) lists the limits of feature definition "
            f"{plan.schema.feature_version}."]
    return out


def _use_cases(plan: ReleasePlan) -> List[str]:
    tests = [s for s in plan.assignment.splits if s not in ("train", "validation")]
    report = (f"report {', '.join(tests)} side by side: each measures another condition" if len(tests) > 1 else
              f"report {tests[0]}, which measures {CONDITIONS[tests[0]][2]}")
    return [
        "Intended: training and evaluating models that recognise or translate Ghanaian Sign Language from body, "
        "hand and face landmarks (research and assistive communication tools).",
        f"Fit on train, choose models on validation only, and {report} (the `splits` record set).",
        "Not intended: identifying or re-identifying signers, biometric recognition or surveillance, or decisions "
        "about a person's care without a qualified interpreter.",
    ]
