"""The metadata's rows and the videos they name, read and paired inside the job.

Nothing here is planned by the launcher: the job reads --metadata_csv and lists
--video_dir itself, so no row travels inside the job's graph and the graph is the
same for ten rows and a million. The launcher reads both too, but only to check
them before any work (pipeline/preflight.py).

  ReadMetadata    one read of the file (CSV or .xlsx, transforms/store/metadata.py),
                  each line judged on its own as it is read: per-video rows, or a
                  sentence table's sentences (transforms/store/sentence_table.py)
  SentencesAgree  per-video rows of one sentence id agree on how it is written and on
                  its text (metadata.mark_sentence_conflicts, by a join on the id)
  PairSentences   a sentence table's sentences and the listed videos, paired by the
                  sentence id each video's name gives (a join on it)
  NearMisses      for a row whose video is not listed, the names a person probably
                  meant (metadata.NearNames, by a join per kind of near miss)
  find_videos     a per-video row → its file among the files of its Unicode form (run
                  in the video step, on the per-clip join: transforms/landmarks/video_step.py)

Every step is a join on a key (CoGroupByKey), never the whole listing in one
place, so a million rows and a million files stay within a worker's memory.
Rows cross the joins as plain tuples (pack/unpack): Beam encodes those itself,
where a dataclass would be pickled, element by element.
"""
from __future__ import annotations

import dataclasses
import unicodedata
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.common.progress import NAMESPACE
from transforms.common.storage import ObjectInfo
from transforms.store import metadata, sentence_table
from transforms.store.metadata import ClipRow
from transforms.store.results import ClipResult, Located

PER_VIDEO, SENTENCES, REFUSED = "per_video", "sentences", "refused"


# --- reading ---------------------------------------------------------------------------------------

class ReadMetadata(beam.PTransform):
    """The metadata file's rows: tagged PER_VIDEO (a per-video file's usable rows), REFUSED (its rows that
    cannot be used, each with its reason) or SENTENCES (a sentence table)."""

    def __init__(self, path: str, columns: Optional[str], pattern: str):
        super().__init__()
        self.path, self.columns, self.pattern = path, columns, pattern

    def expand(self, pbegin):
        return (pbegin
                | "Start" >> beam.Impulse()
                | "Read lines" >> beam.ParDo(_ReadSheet(self.path, self.columns, self.pattern)).with_outputs(
                    PER_VIDEO, SENTENCES, REFUSED))


class _ReadSheet(beam.DoFn):
    def __init__(self, path: str, columns: Optional[str], pattern: str):
        self.path, self.columns, self.pattern = path, columns, pattern

    def process(self, _):
        sheet = metadata.load(self.path, metadata.parse_columns(self.columns), stream=True)
        if not sheet.is_sentence_table:
            metadata.check_columns(sheet, metadata.REQUIRED_COLUMNS, "")
            for line, values in sheet.lines:
                row = metadata.judge_line(sheet.header, values, line)
                yield beam.pvalue.TaggedOutput(REFUSED if row.error else PER_VIDEO, row)
            return
        for row in sentence_table.sentences(sheet, sentence_table.compile_pattern(self.pattern)):
            yield beam.pvalue.TaggedOutput(SENTENCES, row)


class SentencesAgree(beam.PTransform):
    """Usable per-video rows → the same rows (main output), those that disagree with the first row of their
    sentence id on tag REFUSED instead (metadata.mark_sentence_conflicts, which the launcher runs over the
    whole file: the same reasons)."""

    def expand(self, rows):
        return (rows
                | "By sentence id" >> beam.Map(lambda row: (row.sentence_id, row))
                | "Rows of each id" >> beam.GroupByKey()
                | "Same id, same sentence" >> beam.FlatMap(_agreeing).with_outputs(REFUSED, main="rows"))


def _agreeing(group) -> Iterable:
    _, rows = group
    rows = list(rows)
    metadata.mark_sentence_conflicts(rows)
    for row in rows:
        yield beam.pvalue.TaggedOutput(REFUSED, row) if row.error else row


# --- per-video rows: their files ------------------------------------------------------------------

def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def find_videos(rows: List[ClipRow], files: Dict[str, ObjectInfo]) -> List[Located]:
    """Per-video rows → each row's file: its own name, or the only file whose name spells it in another
    Unicode normalization (metadata.match_normalization); not found: Located with no video.

    files: the listed files that could be it (those of the rows' Unicode form, from the per-clip join).
    """
    by_form: Dict[str, List[str]] = {}
    for name in files:
        by_form.setdefault(nfc(name), []).append(name)
    found = []
    for row in rows:
        if row.video_file in files:
            found.append(Located(row, files[row.video_file]))
            continue
        same = by_form.get(nfc(row.video_file), [])
        if len(same) == 1:
            # The launcher's check said so in the log, with how many and an example.
            _normalized.inc()
            found.append(Located(dataclasses.replace(row, video_file=same[0]), files[same[0]]))
        else:
            found.append(Located(row))
    return found


_normalized = Metrics.counter(NAMESPACE, "video_names_matched_in_another_normalization")


def pack(row: ClipRow) -> tuple:
    """A row as a tuple of plain values, for a join."""
    return (row.line, row.video_file, row.sentence_id, row.sentence, row.category, row.extra, row.error, row.missing)


def unpack(values: tuple) -> ClipRow:
    return ClipRow(*values)


class NearMisses(beam.PTransform):
    """(missing results of rows whose file is not listed, listing) → the same results, the names a person
    probably meant added to their reason (metadata.NearNames' words)."""

    def expand(self, inputs):
        missing, listing = inputs
        keyed = {
            "rows": missing | "Row keys" >> beam.FlatMap(lambda r: [(key, (r.row.line, r.video_file)) for key in
                                                                    metadata.near_keys(r.video_file)]),
            "files": listing | "File keys" >> beam.FlatMap(lambda item: [(key, item[0])
                                                                         for key in metadata.near_keys(item[0])]),
        }
        candidates = (keyed
                      | "Match near names" >> beam.CoGroupByKey()
                      | "Candidates" >> beam.FlatMap(_candidates))
        return ({"results": missing | "By row" >> beam.Map(lambda r: ((r.row.line, r.video_file), r)),
                 "candidates": candidates}
                | "Results and their candidates" >> beam.CoGroupByKey()
                | "Say what was meant" >> beam.FlatMap(_hinted))


def _candidates(group) -> Iterable:
    (kind, _), found = group
    if not found["rows"] or not found["files"]:
        return
    names = sorted(found["files"])
    for row in found["rows"]:
        yield row, (kind, names)


def _hinted(group) -> Iterable[ClipResult]:
    _, found = group
    by_kind: Dict[str, List[str]] = {kind: names for kind, names in found["candidates"]}
    for result in found["results"]:
        hint = metadata.near_hint(result.video_file, by_kind)
        yield dataclasses.replace(result, error=f"{result.error}; {hint}") if hint else result


# --- a sentence table: its sentences and the videos ------------------------------------------------

class PairSentences(beam.PTransform):
    """(sentences, listing) → Located rows, as sentence_table.pair makes them (its module docstring)."""

    def __init__(self, pattern: str, header: List[str]):
        super().__init__()
        self.pattern, self.header = pattern, header

    def expand(self, inputs):
        sentences, listing = inputs
        videos, unpaired = (listing
                            | "Video files" >> beam.Filter(lambda item: sentence_table.is_video(item[0]))
                            | "Read each name" >> beam.FlatMap(_video_of, self.pattern, self.header).with_outputs(
                                "unpaired", main="videos"))
        paired = ({"sentences": sentences | "By sentence id" >> beam.Map(lambda row: (row.sentence_id, row)),
                   "videos": videos}
                  | "Sentences and their videos" >> beam.CoGroupByKey()
                  | "Rows of each sentence" >> beam.FlatMap(_sentence_rows, self.pattern, self.header))
        return (paired, unpaired) | "Every row" >> beam.Flatten()


def _video_of(item: Tuple[str, ObjectInfo], pattern: str, header: List[str]) -> Iterable:
    path, info = item
    compiled = sentence_table.compile_pattern(pattern)
    row, video = sentence_table.judge_video(header, path, compiled)
    if row is not None:
        yield beam.pvalue.TaggedOutput("unpaired", Located(row, info))
    else:
        yield video.groups[sentence_table.SENTENCE_ID_GROUP], (video, info)


def _sentence_rows(group, pattern: str, header: List[str]) -> Iterable[Located]:
    sentence_id, found = group
    videos = sorted(found["videos"], key=lambda v: v[0].path)
    compiled = sentence_table.compile_pattern(pattern)
    if not found["sentences"]:
        for video, info in videos:
            yield Located(sentence_table.without_sentence(header, video, compiled), info)
        return
    # Two lines with one id stop the run at the launcher; a file edited since pairs its first line.
    sentence, *others = sorted(found["sentences"], key=lambda row: row.line)
    for other in others:
        yield Located(dataclasses.replace(other, error=f"the same sentence_id as line {sentence.line} of the table"))
    # A listed name that is not in normal form ('a//b.mp4') is not the file the row names: not found.
    infos = {video.path: info if video.path == video.listed else None for video, info in videos}
    for row in sentence_table.rows_of(sentence, [video for video, _ in videos], compiled):
        yield Located(row, infos.get(row.video_file))
