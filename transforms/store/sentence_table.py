"""A sentence table and the videos under --video_dir, paired by their file names.

SignTalk-GH is published as one row per sentence (Metadata.xlsx: Sentence ID,
Sentence Text, Category) beside a folder of videos named <Sentence ID><Letter>.mp4,
several per sentence. A metadata file with no video_file column (after the column
mapping, see metadata.rename_columns) is read as such a table, and its rows are
built here from the one listing of --video_dir the launcher makes:

* the videos: every listed file, at any depth, whose extension is one the pipeline
  decodes (VIDEO_EXTENSIONS, in any case); other files are not looked at;
* a video's name: `pattern.fullmatch` on its file name without its folder and its
  last extension ("part1/1000A.mp4" → "1000A"). The `sentence_id` group is the
  sentence id, normalised as the table's ids are ("01000" is 1000); every other
  named group (the default pattern's `take`) becomes a column, after the table's own;
* the rows, in an order that does not depend on the listing's: for each table line,
  in order, one row per video of its sentence by path, each with the sentence's line,
  or for a sentence with no video one `missing` row (video_file empty) at its line;
  a line that cannot be used (an id that is not an integer, an empty sentence, a
  wrong field count) is one failed row at its line, and its videos fail at that line
  too; then one failed row per video that belongs to no line (its name does not
  match, or its sentence id has no row), by path, with line None: empty in the
  reports, sorted after the table.

So every video and every sentence is in exactly one row. Two lines with the same
sentence id, or a table that no listed video pairs with, stop the run (MetadataError),
as does a table with no line (NoSentences).
"""
from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Pattern, Tuple

from transforms.store import metadata
from transforms.store.metadata import REQUIRED_COLUMNS, ClipRow, MetadataError, Sheet

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
SENTENCE_COLUMNS = ("sentence_id", "sentence", "category")
SENTENCE_ID_GROUP = "sentence_id"

_PATTERN_EXAMPLE = r"(?P<sentence_id>\d+)(?P<take>[A-Z]) for 1000A.mp4"


class NoSentences(MetadataError):
    """A sentence table with a header and no line: no video can be paired, and the run has nothing to do."""


class Read(NamedTuple):
    """What the launcher reads of --metadata_csv to check it: the file's own header (renamed to our column
    names), the rows' columns, and every row."""

    sheet_header: List[str]
    header: List[str]
    rows: List[ClipRow]


def metadata_rows(path: str, listing: Iterable[str], columns: Optional[str], pattern: str) -> Read:
    """--metadata_csv's header and rows, whichever its layout.

    listing: every file under --video_dir, relative to it ('/' separators); used only
    by a sentence table. columns: --metadata_columns; pattern: --video_name_pattern
    (both checked whatever the layout, a mistyped option never passes unnoticed).
    """
    mapping = metadata.parse_columns(columns)
    compiled = compile_pattern(pattern)
    sheet = metadata.load(path, mapping)
    if not sheet.is_sentence_table:
        return Read(sheet.header, *metadata.judge(sheet, listing))
    return Read(sheet.header, *pair(sheet, listing, compiled))


def compile_pattern(text: str) -> Pattern:
    """--video_name_pattern compiled; it must compile and have a sentence_id group."""
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise MetadataError(f"--video_name_pattern={text} is not a regular expression Python can compile ({exc}). "
                            f"Fix it, e.g. {_PATTERN_EXAMPLE}.") from exc
    if SENTENCE_ID_GROUP not in pattern.groupindex:
        raise MetadataError(f"--video_name_pattern={text} has no group named sentence_id, so no video can be paired "
                            f"with its sentence. Name the part of the file name that is the sentence id "
                            f"(?P<sentence_id>…), e.g. {_PATTERN_EXAMPLE}.")
    return pattern


def column_groups(pattern: Pattern) -> List[str]:
    """The pattern's named groups other than sentence_id, in the order they are written."""
    return [name for name, _ in sorted(pattern.groupindex.items(), key=lambda item: item[1])
            if name != SENTENCE_ID_GROUP]


def is_video(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def name_of(path: str) -> str:
    """What the pattern is matched against: the file name without its folder and its last extension."""
    return posixpath.splitext(posixpath.basename(path))[0]


@dataclasses.dataclass
class _Video:
    path: str                 # as the rows name it (normalized)
    groups: Dict[str, str]
    listed: str = ""          # as the listing names it


def pair(sheet: Sheet, listing: Iterable[str], pattern: Pattern) -> Tuple[List[str], List[ClipRow]]:
    """The rows of a sentence table paired with the videos listed (see the module docstring)."""
    listing = list(listing)
    sentences = list(_sentences(sheet, pattern))
    by_id = _by_sentence_id(sheet, sentences)
    videos = sorted(p for p in listing if is_video(p))
    of_sentence: Dict[str, List[_Video]] = {}
    unpaired: List[ClipRow] = []
    for path in videos:
        row, video = judge_video(sheet.header, path, pattern)
        if row is None and video.groups[SENTENCE_ID_GROUP] not in by_id:
            row = without_sentence(sheet.header, video, pattern)
        if row is not None:
            unpaired.append(row)
        else:
            of_sentence.setdefault(video.groups[SENTENCE_ID_GROUP], []).append(video)
    if not of_sentence:
        raise _nothing_paired(sheet, pattern, listing, videos, unpaired, len(sentences))

    rows: List[ClipRow] = []
    for sentence in sentences:
        rows.extend(rows_of(sentence, of_sentence.get(sentence.sentence_id, []), pattern))
    rows.extend(unpaired)
    metadata.mark_duplicates(rows)
    _log_pairing(sheet, pattern, rows, len(sentences), len(videos), of_sentence)
    return header_of(sheet, pattern), rows


def header_of(sheet: Sheet, pattern: Pattern) -> List[str]:
    """The rows' columns: ours, the table's own, then the pattern's named groups."""
    return list(REQUIRED_COLUMNS) + [c for c in sheet.header if c not in REQUIRED_COLUMNS] + column_groups(pattern)


def sentences(sheet: Sheet, pattern: Pattern) -> Iterator[ClipRow]:
    """The table's lines as sentence rows, judged each on its own (no video yet), as the file is read."""
    return _sentences(sheet, pattern)


def _sentences(sheet: Sheet, pattern: Pattern) -> Iterator[ClipRow]:
    if any(c not in sheet.header for c in SENTENCE_COLUMNS):
        # Neither layout: name every column either would need.
        metadata.check_columns(sheet, REQUIRED_COLUMNS,
                               " (or, for a sentence table with no video_file column, sentence_id, sentence, category)")
    groups = column_groups(pattern)
    taken = [g for g in groups if g in sheet.header or g in REQUIRED_COLUMNS]
    if taken:
        raise MetadataError(f"--video_name_pattern={pattern.pattern} has the group(s) {', '.join(taken)}, named like "
                            f"a column of the {sheet.source} or one of ours ({', '.join(REQUIRED_COLUMNS)}). Rename "
                            f"the group(s).")
    table_extra = [c for c in sheet.header if c not in REQUIRED_COLUMNS]
    empty = True
    for line, values in sheet.lines:
        empty = False
        yield _sentence(sheet, line, values, table_extra, groups)
    if empty:
        raise NoSentences(f"The {sheet.source} has no rows, so none of the videos under --video_dir can be paired "
                          f"with a sentence.")


def rows_of(sentence: ClipRow, found: List["_Video"], pattern: Pattern) -> List[ClipRow]:
    """The rows of one sentence: its videos' (in path order), or one missing row without a video; a sentence
    line that cannot be used is a failed row, and each of its videos fails naming it."""
    found = sorted(found, key=lambda v: v.path)
    if sentence.error:
        return [sentence] + [dataclasses.replace(sentence, video_file=v.path, extra=_extra(sentence, v), error=(
            f"its sentence's row, line {sentence.line} of the table, cannot be used ({sentence.error})"))
            for v in found]
    if found:
        return [dataclasses.replace(sentence, video_file=v.path, extra=_extra(sentence, v)) for v in found]
    return [dataclasses.replace(sentence, missing=True, error=(
        f"no video of sentence {sentence.sentence_id} under --video_dir: no video's name gives this "
        f"sentence_id by --video_name_pattern '{pattern.pattern}'"))]


def _sentence(sheet: Sheet, line: int, values: List[str], table_extra: List[str], groups: List[str]) -> ClipRow:
    fields = dict(zip(sheet.header, values))
    row = ClipRow(line=line, video_file="", sentence_id=fields.get("sentence_id", "").strip(),
                  sentence=fields.get("sentence", ""), category=fields.get("category", ""),
                  extra={**{c: fields.get(c, "") for c in table_extra}, **{g: "" for g in groups}})
    if metadata.line_problem(sheet.header, values, line):
        row.error = metadata.line_problem(sheet.header, values, line)
    else:
        row.error = metadata.sentence_id_error(row.sentence_id) or metadata.sentence_error(row.sentence)
    if not metadata.sentence_id_error(row.sentence_id):
        # Kept even on a line with the wrong field count: its videos then fail naming it.
        row.sentence_id = metadata.normal_sentence_id(row.sentence_id)
    return row


def _by_sentence_id(sheet: Sheet, sentences: List[ClipRow]) -> Dict[str, ClipRow]:
    """Each integer sentence id's line; two lines with one id stop the run, naming both."""
    by_id: Dict[str, ClipRow] = {}
    repeated: List[str] = []
    for sentence in sentences:
        if metadata.sentence_id_error(sentence.sentence_id):
            continue
        if sentence.sentence_id in by_id:
            repeated.append(f"{sentence.sentence_id} on lines {by_id[sentence.sentence_id].line} and {sentence.line}")
        else:
            by_id[sentence.sentence_id] = sentence
    if repeated:
        shown = "; ".join(repeated[:10]) + (f"; and {len(repeated) - 10} more" if len(repeated) > 10 else "")
        raise MetadataError(
            f"The {sheet.source} has the same sentence_id on two lines: {shown}. A sentence table needs one line "
            f"per sentence, since videos are paired with their sentence by that id: remove or renumber one of them.")
    return by_id


def _unpaired(header: List[str], path: str, pattern: Pattern) -> ClipRow:
    return ClipRow(line=None, video_file=path, sentence_id="", sentence="", category="",
                   extra={c: "" for c in header if c not in REQUIRED_COLUMNS} | {g: "" for g in column_groups(pattern)})


def judge_video(header: List[str], path: str, pattern: Pattern) -> Tuple[Optional[ClipRow], Optional["_Video"]]:
    """(a failed row, None) for a video whose name gives no usable sentence id, else (None, the video).

    header: the table's (renamed) header. Whether a line of the table has the id is for the caller.
    """
    unpaired = _unpaired(header, path, pattern)
    groups = column_groups(pattern)
    unsafe = metadata.unsafe_path_reason(path)
    found = pattern.fullmatch(name_of(path))
    if unsafe:
        unpaired.error = f"unsafe path: {unsafe}"
        return unpaired, None
    if found is None:
        unpaired.error = (f"name {name_of(path)!r} does not match --video_name_pattern '{pattern.pattern}' (matched "
                          f"against the file name without its folder and extension): rename the video or change "
                          f"the pattern")
        return unpaired, None
    values = {g: found.group(g) or "" for g in groups}
    sentence_id = (found.group(SENTENCE_ID_GROUP) or "").strip()
    unpaired.extra.update(values)
    unpaired.sentence_id = sentence_id
    problem = metadata.sentence_id_error(sentence_id)
    if problem:
        unpaired.error = (f"{problem} (read from the name {name_of(path)!r} by --video_name_pattern "
                          f"'{pattern.pattern}'): rename the video or change the pattern")
        return unpaired, None
    sentence_id = metadata.normal_sentence_id(sentence_id)
    return None, _Video(path=posixpath.normpath(path), groups={SENTENCE_ID_GROUP: sentence_id, **values},
                        listed=path)


def without_sentence(header: List[str], video: "_Video", pattern: Pattern) -> ClipRow:
    """The failed row of a video whose name gives a sentence id no line of the table has."""
    row = _unpaired(header, video.listed, pattern)
    row.extra.update({k: v for k, v in video.groups.items() if k != SENTENCE_ID_GROUP})
    row.sentence_id = video.groups[SENTENCE_ID_GROUP]
    row.error = (f"no line of the table has sentence {row.sentence_id}, which the name {name_of(video.listed)!r} "
                 f"gives: add the sentence to --metadata_csv, or rename or remove the video")
    return row


def _extra(sentence: ClipRow, video: _Video) -> Dict[str, str]:
    return {**sentence.extra, **{k: v for k, v in video.groups.items() if k != SENTENCE_ID_GROUP}}


def _nothing_paired(sheet: Sheet, pattern: Pattern, listing: Iterable[str], videos: List[str],
                    unpaired: List[ClipRow], sentences: int) -> MetadataError:
    if not videos:
        others = sum(1 for _ in listing)
        problem = (f"--video_dir holds no video file ({', '.join(VIDEO_EXTENSIONS)}, in any case; "
                   f"{others} other file(s))")
    elif all(r.error.startswith(("name ", "unsafe path")) for r in unpaired):
        examples = ", ".join(repr(name_of(r.video_file)) for r in unpaired[:3])
        problem = (f"none of its {len(videos)} videos' names ({examples}…) matches --video_name_pattern="
                   f"{pattern.pattern} (matched against the file name without its folder and extension)")
    else:
        examples = ", ".join([f"{r.sentence_id} from {r.video_file}" for r in unpaired if r.sentence_id][:3])
        problem = (f"none of the sentence ids its {len(videos)} videos' names give ({examples}…) is a "
                   f"sentence_id of the table's {sentences} line(s)")
    return MetadataError(
        f"The {sheet.source} lacks the column(s) video_file, so it is read as a sentence table (one line per "
        f"sentence, its videos found under --video_dir by --video_name_pattern), but {problem}. Check --video_dir "
        f"and --video_name_pattern; if the file lists one video per row, name that column video_file (or map it: "
        f"--metadata_columns=video_file=\"Its Column\").")


def _log_pairing(sheet: Sheet, pattern: Pattern, rows: List[ClipRow], sentences: int, videos: int,
                 of_sentence: Dict[str, List[_Video]]) -> None:
    paired = sum(len(v) for v in of_sentence.values())
    without = sum(1 for r in rows if r.missing)
    metadata.LOG.info(
        "Sentence table %s: %d line(s); %d of the %d video(s) under --video_dir paired with a sentence by "
        "--video_name_pattern=%s, %d not (failed_videos.csv); %d sentence(s) without a video (missing_videos.csv).",
        sheet.source, sentences, paired, videos, pattern.pattern, videos - paired, without)
    alike: Dict[Tuple, List[str]] = {}
    for found in of_sentence.values():
        for video in found:
            alike.setdefault(tuple(sorted(video.groups.items())), []).append(video.path)
    same = [paths for paths in alike.values() if len(paths) > 1]
    if same:
        metadata.LOG.warning(
            "%d group(s) of videos in different folders have the same name groups (e.g. %s); each is processed "
            "as its own clip.", len(same), " and ".join(same[0][:2]))
