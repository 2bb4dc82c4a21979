"""The metadata file: read it whole, check its header, and judge every row.

A real metadata file has quoted commas and newlines, may start with a UTF-8 BOM
and may use CRLF; Python's csv module with newline="" handles all of these.
The team also keeps it as an Excel workbook: an .xlsx (recognised by its
content, whatever its name) is read directly, first sheet, same columns, a
row's `line` being its row number in the sheet. Every data row becomes a
`ClipRow`, with `error` set when the row cannot be processed, so that no row
is ever dropped: the error ends up in failed_videos.csv.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import posixpath
import re
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from transforms.store import storage

REQUIRED_COLUMNS = ("video_file", "sentence_id", "sentence", "category")

_SCHEME_OR_DRIVE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INTEGER = re.compile(r"^[+-]?\d+$")
_ZIP = b"PK\x03\x04"                               # an .xlsx is a zip archive
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls


class MetadataError(ValueError):
    """The metadata file as a whole cannot be used; the message says how to fix it."""


@dataclasses.dataclass
class ClipRow:
    """One data row of the metadata CSV."""

    line: int                 # line of the CSV where the row starts (the header is line 1)
    video_file: str
    sentence_id: str
    sentence: str
    category: str
    extra: Dict[str, str]     # every other input column, in input order
    error: Optional[str] = None

    @property
    def feature_stem(self) -> str:
        """video_file without its extension: where its outputs are saved."""
        return posixpath.splitext(self.video_file)[0]


def read_bytes(path: str) -> bytes:
    try:
        return storage.read_bytes(path)
    except Exception as exc:  # any filesystem: not found, permission, bad bucket…
        raise MetadataError(
            f"Cannot read the metadata CSV {path}: {exc}. Check --metadata_csv "
            f"(a local path or a gs:// URI) and that this account may read it.") from exc


def decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataError(
            f"The metadata CSV {path} is not UTF-8 text ({exc}). Re-save it as UTF-8 CSV.") from exc


def read(path: str) -> Tuple[List[str], List[ClipRow]]:
    raw = read_bytes(path)
    if raw.startswith(_ZIP):
        return parse_workbook(raw, source=f"metadata workbook {path}")
    if raw.startswith(_OLE):
        raise MetadataError(
            f"The metadata file {path} is an old Excel .xls workbook, which cannot be read. In Excel, save it "
            f"as .xlsx (Excel Workbook) or as CSV UTF-8, and pass that as --metadata_csv.")
    return parse(decode(raw, path), source=f"metadata CSV {path}")


def parse(text: str, source: str = "metadata CSV") -> Tuple[List[str], List[ClipRow]]:
    """Header and rows of a metadata CSV; raises MetadataError if the header lacks a column."""
    if text.startswith("\ufeff"):  # a BOM that survived decoding (e.g. text read elsewhere)
        text = text[1:]
    return _judge(_csv_lines(text, source), source, layout="the file must be comma-separated")


def parse_workbook(raw: bytes, source: str = "metadata workbook") -> Tuple[List[str], List[ClipRow]]:
    """Header and rows of the first sheet of an .xlsx workbook, judged like a CSV's."""
    import openpyxl  # only metadata kept in Excel needs it

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # a zip that is not a workbook, a damaged file…
        raise MetadataError(f"The {source} cannot be opened as an Excel .xlsx workbook: {exc}. Save it again "
                            f"from Excel, or export the sheet as CSV UTF-8.") from exc
    try:
        lines = [(number, [_cell_text(v) for v in values])
                 for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)]
    finally:
        book.close()
    return _judge(_to_header_width(lines), source, layout="the first sheet is read")


def _cell_text(value) -> str:
    """A cell as the sheet shows it: 12 (stored as the float 12.0) is "12", an empty cell ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _to_header_width(lines: List[Tuple[int, List[str]]]) -> Iterator[Tuple[int, List[str]]]:
    """Sheet rows cut or padded to the header's width; a non-empty cell past it is kept, to be reported.

    A sheet has no field separators: a row's empty trailing cells are simply empty values.
    """
    if not lines:
        return
    number, header = lines[0]
    while header and not header[-1].strip():
        header = header[:-1]
    width = len(header)
    yield number, header
    for number, values in lines[1:]:
        if any(v.strip() for v in values[width:]):
            yield number, values
        else:
            yield number, (values + [""] * width)[:width]


def _csv_lines(text: str, source: str) -> Iterator[Tuple[int, List[str]]]:
    """(line where the record starts, its fields) for every record of a CSV text."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as exc:
        where = f" near line {start}" if start > 1 else ""
        raise MetadataError(f"The {source} is not valid CSV{where}: {exc}.") from exc


def _judge(lines: Iterable[Tuple[int, List[str]]], source: str, layout: str) -> Tuple[List[str], List[ClipRow]]:
    """Checks the header (first line) and turns every other non-blank line into a ClipRow."""
    lines = iter(lines)
    try:
        _, header = next(lines)
    except StopIteration:
        raise MetadataError(
            f"The {source} is empty: it needs a header row with {', '.join(REQUIRED_COLUMNS)}.") from None
    header = [name.strip() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise MetadataError(
            f"The {source} lacks the column(s) {', '.join(missing)}; its header is "
            f"{', '.join(header) or '(empty)'}. Add them (names are case-sensitive; {layout}) "
            f"so every row has {', '.join(REQUIRED_COLUMNS)}.")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise MetadataError(f"The {source} repeats the column(s) {', '.join(dupes)}; give each column one name.")

    rows: List[ClipRow] = []
    for line, values in lines:
        if not values or all(not v.strip() for v in values):
            continue  # blank line, not a row
        rows.append(_row(header, values, line))
    _mark_duplicates(rows)
    return header, rows


def _row(header: List[str], values: List[str], line: int) -> ClipRow:
    fields = dict(zip(header, values))
    row = ClipRow(
        line=line,
        video_file=fields.get("video_file", "").strip(),
        sentence_id=fields.get("sentence_id", "").strip(),
        sentence=fields.get("sentence", ""),
        category=fields.get("category", ""),
        extra={k: fields.get(k, "") for k in header if k not in REQUIRED_COLUMNS},
    )
    if len(values) != len(header):
        row.error = (f"Row has {len(values)} fields but the header has {len(header)}: "
                     f"check for an unquoted comma or a missing field")
    elif unsafe_path_reason(row.video_file):
        row.error = f"unsafe path: {unsafe_path_reason(row.video_file)}"
    elif not _INTEGER.match(row.sentence_id):
        row.error = f"sentence_id {row.sentence_id!r} is not an integer"
    else:
        row.sentence_id = str(int(row.sentence_id))
    if not row.error:
        # Normalized here, once: a local folder forgives "./a.mp4" and "a//b.mp4", a bucket
        # does not (its object is "a.mp4"), and every output path derives from this name.
        row.video_file = posixpath.normpath(row.video_file)
    return row


def unsafe_path_reason(video_file: str) -> Optional[str]:
    """Why video_file may not be joined to --video_dir, or None when it is a safe relative path.

    A metadata row must never make the job read or write outside the given folders.
    """
    if not video_file:
        return "video_file is empty"
    if "\x00" in video_file:
        return "video_file contains a NUL character"
    if "://" in video_file or _SCHEME_OR_DRIVE.match(video_file):
        return f"{video_file!r} is a URL or drive path; give a path relative to --video_dir"
    if video_file.startswith(("/", "\\")):
        return f"{video_file!r} is absolute; give a path relative to --video_dir"
    if ".." in re.split(r"[\\/]", video_file):
        return f"{video_file!r} contains '..'; give a path inside --video_dir"
    if "\\" in video_file:
        return f"{video_file!r} contains a backslash; use '/' between folders"
    return None


def _mark_duplicates(rows: List[ClipRow]) -> None:
    """The first row of a video wins; later rows of the same video fail, naming its line.

    Two files that differ only in extension (clip.mp4, clip.mov) would write the
    same clip.npy, so they count as the same video too.
    """
    first_by_file: Dict[str, int] = {}
    first_by_stem: Dict[str, Tuple[int, str]] = {}
    for row in rows:
        if row.error:
            continue
        key = row.video_file
        stem = row.feature_stem
        if key in first_by_file:
            row.error = f"duplicate of line {first_by_file[key]}: the same video_file is listed twice"
        elif stem in first_by_stem:
            line, other = first_by_stem[stem]
            row.error = (f"duplicate of line {line}: {other!r} already writes the features "
                         f"{stem}.npy; rename one of the videos")
        else:
            first_by_file[key] = row.line
            first_by_stem[stem] = (row.line, row.video_file)
