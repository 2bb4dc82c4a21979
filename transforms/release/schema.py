"""The fields of a release row, defined once: the Parquet schema, the card's structure lines, the
`dataset_info` features of its YAML header and feature_schema.json's `fields` all come from this list.

A row is one saved clip: its processed_metadata.csv row (minus `feature_path`, a
path into the pipeline's output folder, and `frame_feature_dim`, the array's
width), its split, and its features as a (num_frames × dim) array. Columns the
pipeline knows get their type; every other metadata column is kept as the text
the metadata file held.
"""
from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

from transforms.features import registry
from transforms.reports.run_reports import computed_columns, value
from transforms.store.metadata import REQUIRED_COLUMNS
from transforms.store.results import ClipResult

FEATURES = "features"
SPLIT = "split"
ADDED = (SPLIT, FEATURES)
DROPPED = ("feature_path", "frame_feature_dim")
TEXT_VARIATIONS = "text_variations"

# name → (kind, meaning); the order of a row's fields is this order, then the other metadata columns.
_KNOWN = {
    "video_file": ("string", "The clip's video, relative to the video folder, as in the metadata. Unique."),
    SPLIT: ("string", "The clip's split, which is its evaluation condition: train, validation or test; with a held-out "
                      "axis also test_unseen_signers or test_unseen_both (see Splits)."),
    "sentence_id": ("int64", "The sentence signed; every clip of one sentence has the same id."),
    "sentence": ("string", "The sentence, in English."),
    "category": ("string", "The sentence's category in the metadata."),
    TEXT_VARIATIONS: ("strings", "The sentence, then natural rephrasings of it written by Gemini "
                                 "(pipeline.augment_text); only the sentence when none passed the checks."),
    "num_frames": ("int32", "Frames in `features`: {frames}."),   # the version's FeatureVersion.frames_text
    "source_fps": ("float64", "Frames per second of the source video: frame t of `features` is t / source_fps "
                              "seconds after its first frame."),
    FEATURES: ("frames", "The clip's features, one row per frame, {dim} columns named in feature_schema.json "
                         "(`columns`); {columns}"),
    "detection_ratio": ("float64", "Share of the frames with a pose or a hand detected."),
    "mean_visibility": ("float64", "Mean MediaPipe visibility of the pose points."),
    "motion_mean": ("float64", "Mean motion energy per frame (L2 norm of the frame-to-frame change, torso units)."),
    "motion_p50": ("float64", "Median motion energy per frame."),
    "motion_p95": ("float64", "95th percentile of the motion energy per frame."),
    "motion_max": ("float64", "Largest motion energy of a frame."),
    "quality_flag": ("string", "`kept_low` for a clip the quality rules rejected but --keep_low_quality saved; "
                               "else empty."),
    "trimmed_start": ("int32", "Frames without a signer cut from the start of the video."),
    "trimmed_end": ("int32", "Frames without a signer cut from the end of the video."),
    "dominant_hand": ("string", "left, right or unknown: the hand that moves most in the clip as filmed "
                                "(docs/features-v2.md, Dominant hand)."),
    "dominant_hand_reason": ("string", "Why the dominant hand is unknown; empty when it is known."),
    "mirrored": ("bool", "True when --canonical_hand mirrored the clip (its dominant hand was the left one), so that "
                         "the dominant hand is in the right-hand columns."),
}
@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    kind: str          # string, bool, int32, int64, float64, strings (a list of strings), frames (the array)
    description: str


@dataclasses.dataclass(frozen=True)
class ReleaseSchema:
    fields: List[Field]
    feature_version: str
    dim: int
    dtype: str         # float32 or float16

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.fields]

    def arrow(self) -> "pa.Schema":
        import pyarrow as pa  # only where shards are written: a release that exists already needs none

        return pa.schema([pa.field(f.name, self._arrow_type(f.kind), nullable=False) for f in self.fields])

    def _arrow_type(self, kind: str) -> "pa.DataType":
        import pyarrow as pa

        if kind == "frames":
            return pa.list_(pa.list_(pa.from_numpy_dtype(np.dtype(self.dtype)), self.dim))
        if kind == "strings":
            return pa.list_(pa.string())
        return {"string": pa.string(), "bool": pa.bool_(), "int32": pa.int32(), "int64": pa.int64(),
                "float64": pa.float64()}[kind]

    def hf_features(self) -> List[dict]:
        """`dataset_info.features` of the card's YAML header, in the `datasets` library's format."""
        out = []
        for f in self.fields:
            if f.kind == "frames":
                out.append({"name": f.name, "list": {"list": self.dtype, "length": self.dim}})
            elif f.kind == "strings":
                out.append({"name": f.name, "list": "string"})
            else:
                out.append({"name": f.name, "dtype": f.kind})
        return out

    def type_text(self, field: Field) -> str:
        """The field's type as the card and feature_schema.json write it."""
        if field.kind == "frames":
            return f"{self.dtype}[num_frames][{self.dim}]"
        return "list of string" if field.kind == "strings" else field.kind

    def field_docs(self) -> List[dict]:
        return [{"name": f.name, "type": self.type_text(f), "description": f.description} for f in self.fields]

    def values(self, result: ClipResult, split: str, output_dir: str) -> Dict[str, object]:
        """A row's typed values from the clip's result (features aside)."""
        out: Dict[str, object] = {}
        for f in self.fields:
            if f.name == FEATURES:
                continue
            given = split if f.name == SPLIT else value(result, f.name, output_dir)
            out[f.name] = _typed(f, given, result.video_file)
        return out

    def table(self, rows: Sequence[Mapping[str, object]]) -> "pa.Table":
        """An Arrow table of rows holding values() plus their `features` array (frames × dim)."""
        import pyarrow as pa

        schema = self.arrow()
        columns = []
        for f in self.fields:
            if f.kind == "frames":
                columns.append(self._frames_column(rows, schema.field(f.name).type))
            else:
                columns.append(pa.array([r[f.name] for r in rows], type=schema.field(f.name).type))
        return pa.Table.from_arrays(columns, schema=schema)

    def _frames_column(self, rows, arrow_type: "pa.DataType") -> "pa.Array":
        import pyarrow as pa

        arrays = [np.asarray(r[FEATURES], dtype=self.dtype).reshape(-1, self.dim) for r in rows]
        offsets = np.cumsum([0] + [len(a) for a in arrays], dtype=np.int32)
        flat = np.concatenate(arrays).reshape(-1) if arrays else np.zeros(0, self.dtype)
        frames = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=arrow_type.value_type.value_type), self.dim)
        return pa.ListArray.from_arrays(pa.array(offsets), frames, type=arrow_type)


def _typed(f: Field, given: object, video_file: str):
    """The field's value; metadata columns are text, and text_variations a JSON list in its text."""
    try:
        if f.kind == "string":
            return str(given)
        if f.kind == "bool":
            return given if isinstance(given, bool) else {"True": True, "False": False}[given]
        if f.kind in ("int32", "int64"):
            number, bits = int(given), int(f.kind[3:])
            # Arrow would overflow while the shards are written, inside the job: refused here, with the value.
            if not -2 ** (bits - 1) <= number < 2 ** (bits - 1):
                raise ValueError(f"outside the range of an {f.kind}")
            return number
        if f.kind == "float64":
            return float(given)
        if f.kind == "strings":
            values = json.loads(given)
            if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                raise ValueError("not a JSON list of strings")
            return values
    except ValueError as exc:
        raise ValueError(f"processed_metadata.csv, {video_file}: {f.name}={given!r} is not a {f.kind} ({exc}); "
                         f"run pipeline.run (or pipeline.augment_text for text_variations) again.") from None
    raise AssertionError(f.kind)


def release_schema(csv_columns: Sequence[str], feature_options: Mapping[str, object], dim: int,
                   dtype: str) -> ReleaseSchema:
    """The fields of a release built from a processed_metadata.csv with these columns, of features made with
    these feature options (the version's own words for its frames and columns)."""
    version = registry.of(feature_options)
    present = [n for n in _KNOWN if n in csv_columns or n in ADDED]
    others = [c for c in csv_columns if c not in _KNOWN and c not in DROPPED]
    frames, columns = version.frames_text, version.columns_text(feature_options)
    fields = []
    for name in present:
        kind, text = _KNOWN[name]
        fields.append(Field(name, kind, text.format(frames=frames, dim=dim, columns=columns)))
    # The name is the field's own: not repeated in the text, which the card shows as it is.
    fields += [Field(c, "string", "A column of the metadata file, as the file wrote it.") for c in others]
    return ReleaseSchema(fields, str(feature_options["feature_version"]), dim, dtype)


def metadata_columns(csv_columns: Sequence[str]) -> List[str]:
    """The columns of processed_metadata.csv that came from the metadata file (those --split_by may name)."""
    computed = set(computed_columns()) - set(REQUIRED_COLUMNS) | {TEXT_VARIATIONS}
    return [c for c in csv_columns if c not in computed]


def release_feature_schema(proc_schema: Mapping[str, object], schema: ReleaseSchema,
                           column_presence: Optional[List[int]]) -> dict:
    """The release's feature_schema.json: proc/feature_schema.json's columns and options, the array's dtype,
    which presence column masks each column (a version with presence columns), and every field of a row."""
    out = {"feature_version": proc_schema["feature_version"], "columns": list(proc_schema["columns"]),
           "dim": schema.dim, "dtype": schema.dtype, "options": proc_schema["options"]}
    if column_presence is not None:
        out["column_presence"] = column_presence
    out["fields"] = schema.field_docs()
    return out
