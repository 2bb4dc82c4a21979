"""The metadata file: read it whole, check its header, and judge every row.

A real metadata file has quoted commas and newlines, may start with a UTF-8 BOM
and may use CRLF; Python's csv module with newline="" handles all of these.
The team also keeps it as an Excel workbook: an .xlsx (recognised by its
content, whatever its name) is read directly, first sheet, same columns, a
row's `line` being its row number in the sheet. Every data row becomes a
`ClipRow`, with `error` set when the row cannot be processed, so that no row
is ever dropped: the error ends up in failed_videos.csv.

Column names are ours (REQUIRED_COLUMNS) unless a mapping renames the file's
headers: --metadata_columns (`parse_columns`), or, without it, the headers of
SignTalk-GH's published Metadata.xlsx (PUBLISHED_COLUMNS), recognised when all
three are there and none of ours. A file without a video_file column is a
sentence table: transforms/store/sentence_table.py pairs it with the videos.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import logging
import posixpath
import re
import unicodedata
import zipfile
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from transforms.common import storage

REQUIRED_COLUMNS = ("video_file", "sentence_id", "sentence", "category")
# SignTalk-GH's Metadata.xlsx, one row per sentence: our name → its header.
PUBLISHED_COLUMNS = {"sentence_id": "Sentence ID", "sentence": "Sentence Text", "category": "Category"}

_SCHEME_OR_DRIVE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INTEGER = re.compile(r"^[+-]?[0-9]+\Z")
_DIGITS = re.compile(r"^[+-]?\d+\Z")               # any script's digits (full-width ７, Arabic-Indic ٧…)
# The release's sentence_id is an int64 (transforms/release/schema.py): an id beyond it cannot be written.
SENTENCE_ID_MIN, SENTENCE_ID_MAX = -2 ** 63, 2 ** 63 - 1
_ZIP = b"PK\x03\x04"                               # an .xlsx is a zip archive
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls
_COLUMNS_EXAMPLE = 'sentence_id="Sentence ID",sentence="Sentence Text",category=Category'
# One side of an ours=theirs pair: "quoted", 'quoted' or bare (no quote, comma or equals sign).
_NAME = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([^,='"]*))\s*""")

LOG = logging.getLogger("ghsl")


class MetadataError(ValueError):
    """The metadata file as a whole cannot be used; the message says how to fix it."""


@dataclasses.dataclass
class ClipRow:
    """One data row of the metadata CSV."""

    # Line of the CSV (row of the sheet) where the row starts, the header being 1. From a
    # sentence table: the sentence's line, shared by its videos; None for a video that
    # belongs to no line of the table.
    line: Optional[int]
    video_file: str
    sentence_id: str
    sentence: str
    category: str
    extra: Dict[str, str]     # every other input column, in input order
    error: Optional[str] = None
    missing: bool = False     # a sentence with no video: reported missing, `error` says why
    # sentence_id as the file writes it ("007"; sentence_id holds "7"), until the rows of one id are compared
    # (mark_sentence_conflicts); "" when it is written as sentence_id says.
    written_id: str = ""

    @property
    def feature_stem(self) -> str:
        """video_file without its extension: where its outputs are saved."""
        return posixpath.splitext(self.video_file)[0]

    def __reduce__(self):
        # Positional: a job moves rows by the hundred thousand (see verdict.Measures.__reduce__).
        return ClipRow, (self.line, self.video_file, self.sentence_id, self.sentence, self.category, self.extra,
                         self.error, self.missing, self.written_id)


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


@dataclasses.dataclass
class Sheet:
    """A metadata file's header (renamed to our column names) and its data lines, not yet judged."""

    source: str                          # "metadata CSV PATH" or "metadata workbook PATH", for messages
    layout: str                          # how the file is read, for messages
    header: List[str]
    # (line where the record starts, its fields), header and blank lines excluded: a list, or read as
    # the file is (load(..., stream=True)), for a job that turns a million lines into rows one at a time.
    lines: Iterable[Tuple[int, List[str]]]

    @property
    def is_sentence_table(self) -> bool:
        return "video_file" not in self.header


def read(path: str, columns: Optional[Dict[str, str]] = None) -> Tuple[List[str], List[ClipRow]]:
    """Header and rows of a per-video metadata file (CSV or .xlsx); `columns`: see `load`."""
    return judge(load(path, columns))


def load(path: str, columns: Optional[Dict[str, str]] = None, stream: bool = False) -> Sheet:
    """The file's header and lines; `columns` (ours → theirs, see parse_columns) renames its headers.
    stream: its lines are read as they are iterated over, once, instead of all at once."""
    raw = read_bytes(path)
    if raw.startswith(_ZIP):
        return sheet_of_workbook(raw, f"metadata workbook {path}", columns, stream)
    if raw.startswith(_OLE):
        raise MetadataError(
            f"The metadata file {path} is an old Excel .xls workbook, which cannot be read. In Excel, save it "
            f"as .xlsx (Excel Workbook) or as CSV UTF-8, and pass that as --metadata_csv.")
    return sheet_of_csv(decode(raw, path), f"metadata CSV {path}", columns, stream)


def parse(text: str, source: str = "metadata CSV") -> Tuple[List[str], List[ClipRow]]:
    """Header and rows of a metadata CSV; raises MetadataError if the header lacks a column."""
    return judge(sheet_of_csv(text, source))


def sheet_of_csv(text: str, source: str, columns: Optional[Dict[str, str]] = None, stream: bool = False) -> Sheet:
    if text.startswith("\ufeff"):  # a BOM that survived decoding (e.g. text read elsewhere)
        text = text[1:]
    return _sheet(_csv_lines(text, source), source, "the file must be comma-separated", columns, stream)


class FormulaCell(str):
    """An .xlsx cell holding a formula whose value the file does not hold: its text is empty, and the formula is
    kept to name it (Excel and LibreOffice save each formula's value with it; a workbook written by a script or
    some other tools holds the formula alone, which a reader cannot compute)."""

    formula: str

    def __new__(cls, formula: str) -> "FormulaCell":
        cell = super().__new__(cls, "")
        cell.formula = formula
        return cell


class OpenQuote(list):
    """The fields of a CSV line that opens a quote (") never closed, read from that line alone: the quote would
    have swallowed every line after it (`swallowed` of them) into one field."""

    swallowed: int = 0


def sheet_of_workbook(raw: bytes, source: str, columns: Optional[Dict[str, str]] = None,
                      stream: bool = False) -> Sheet:
    """The first sheet of an .xlsx workbook, its rows cut to the header's width."""
    import openpyxl  # only metadata kept in Excel needs it

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        # The same sheet with its formulas, to tell a formula with no saved value (FormulaCell) from an empty
        # cell; read only when the workbook has formulas at all, since it doubles the time a sheet takes.
        formulas = (openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
                    if _has_formulas(raw) else None)
    except Exception as exc:  # a zip that is not a workbook, a damaged file…
        raise MetadataError(f"The {source} cannot be opened as an Excel .xlsx workbook: {exc}. Save it again "
                            f"from Excel, or export the sheet as CSV UTF-8.") from exc

    def rows():
        try:
            shown = book.worksheets[0].iter_rows(values_only=True)
            if formulas is None:
                for number, values in enumerate(shown, start=1):
                    yield number, [_cell_text(v) for v in values]
                return
            written = formulas.worksheets[0].iter_rows()
            for number, (values, cells) in enumerate(zip(shown, written), start=1):
                yield number, [_cell_text(v, c) for v, c in zip(values, cells)]
        finally:
            book.close()
            if formulas is not None:
                formulas.close()

    return _sheet(_to_header_width(rows()), source, "the first sheet is read", columns, stream)


_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")   # <f>SUM(A1)</f>, <f t="shared" …/>, <x:f>


def _has_formulas(raw: bytes) -> bool:
    """Some worksheet of the .xlsx holds a formula (an <f> element in its XML)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return any(_FORMULA_ELEMENT.search(archive.read(name)) for name in archive.namelist()
                   if name.startswith("xl/worksheets/") and name.endswith(".xml"))


def _cell_text(value, cell=None) -> str:
    """A cell as the sheet shows it: 12 (stored as the float 12.0) is "12", an empty cell "", a formula whose
    value was not saved a FormulaCell. cell: the same cell read with its formulas."""
    if value is None:
        if getattr(cell, "data_type", None) == "f":
            return FormulaCell(str(cell.value))
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


def _to_header_width(lines: Iterable[Tuple[int, List[str]]]) -> Iterator[Tuple[int, List[str]]]:
    """Sheet rows cut or padded to the header's width; a non-empty cell past it is kept, to be reported.

    A sheet has no field separators: a row's empty trailing cells are simply empty values.
    """
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return
    number, header = first
    while header and not header[-1].strip():
        header = header[:-1]
    width = len(header)
    yield number, header
    for number, values in lines:
        if any(v.strip() for v in values[width:]):
            yield number, values
        else:
            yield number, (values + [""] * width)[:width]


class _Taken:
    """The lines a csv.reader takes from a text, those of the record it is reading remembered."""

    def __init__(self, text: str):
        self._lines = io.StringIO(text, newline="")
        self.record: List[str] = []   # the raw lines of the record being read
        self.record_start = 0         # where that record starts in the text
        self.consumed = 0             # characters taken so far
        self.exhausted = False        # the reader asked for a line past the end

    def next_record(self) -> None:
        self.record, self.record_start = [], self.consumed

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            line = next(self._lines)
        except StopIteration:
            self.exhausted = True
            raise
        self.record.append(line)
        self.consumed += len(line)
        return line


def _csv_lines(text: str, source: str) -> Iterator[Tuple[int, List[str]]]:
    """(line where the record starts, its fields) for every record of a CSV text.

    A quote (") opened and never closed would swallow every line after it into one field: a file of
    a thousand rows read as a few, the rest gone without a word. Such a line is given as an OpenQuote
    (judged a failed row naming it), and the lines after it are read again on their own. So is a
    quoted field longer than csv's field limit (128 KiB), which only a quote left open makes.
    """
    first = 1
    while True:
        taken = _Taken(text)
        reader = csv.reader(taken)
        start, rest = first, None
        while True:
            taken.next_record()
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" not in str(exc):
                    where = f" near line {start}" if start > 1 else ""
                    raise MetadataError(f"The {source} is not valid CSV{where}: {exc}.") from exc
                values = None
            if values is None or (taken.exhausted and _opens_quote(taken.record)):
                yield start, _open_quote(taken.record[0], len(taken.record) - 1 if values is not None else None)
                rest = text[taken.record_start + len(taken.record[0]):]
                break
            yield start, values
            start = first + reader.line_num
        text, first = rest, start + 1


def _opens_quote(record: List[str]) -> bool:
    """The raw lines of a CSV record end inside a quoted field (only the last record of a text can)."""
    try:
        for _ in csv.reader(record, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _open_quote(line: str, swallowed: Optional[int]) -> OpenQuote:
    """The fields of a line that opens a quote, from that line alone; swallowed: the lines after it the quote
    took (None: more than csv's field limit)."""
    try:
        read = next(csv.reader([line]), [])
    except csv.Error:  # the line alone is longer than the field limit: its start holds the fields before the quote
        read = next(csv.reader([line[:4096]]), [])
    fields = OpenQuote(read)
    fields.swallowed = swallowed
    return fields


def _sheet(lines: Iterable[Tuple[int, List[str]]], source: str, layout: str,
           columns: Optional[Dict[str, str]], stream: bool = False) -> Sheet:
    """The first line as the header, renamed by the mapping; the other non-blank lines as they are."""
    lines = iter(lines)
    try:
        _, header = next(lines)
    except StopIteration:
        raise MetadataError(
            f"The {source} is empty: it needs a header row with {', '.join(REQUIRED_COLUMNS)}.") from None
    blank = [i for i, name in enumerate(header) if not name.strip()]
    if blank:
        raise MetadataError(_blank_header(source, header, blank))
    header = rename_columns([name.strip() for name in header], columns, source)
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise MetadataError(f"The {source} repeats the column(s) {', '.join(dupes)}; give each column one name.")
    data = ((line, values) for line, values in lines
            if values and any(v.strip() or isinstance(v, FormulaCell) for v in values))
    return Sheet(source=source, layout=layout, header=header, lines=data if stream else list(data))


def column_letter(index: int) -> str:
    """A spreadsheet's name of the column at 0-based `index`: A, B, … Z, AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _blank_header(source: str, header: List[str], blank: List[int]) -> str:
    """Why a header with empty names cannot be read: its values would go into the release as a column named ''."""
    where = ", ".join(f"column {i + 1} ({column_letter(i)})" + (
        f", whose formula {header[i].formula} has no value saved" if isinstance(header[i], FormulaCell) else "")
        for i in blank[:5])
    return (f"The {source} has a header cell with no name: {where}. Every column needs a name, or its values would "
            f"be carried into the reports and the release under an empty one (a merged header cell leaves the "
            f"cells it covers empty). Name the column, unmerge the header cells and name each, or delete the "
            f"column, and run again.")


def check_columns(sheet: Sheet, required: Iterable[str], what: str) -> None:
    """Stop, saying how to fix it, when the (renamed) header lacks one of `required`."""
    required = list(required)
    missing = [c for c in required if c not in sheet.header]
    if missing:
        raise MetadataError(
            f"The {sheet.source} lacks the column(s) {', '.join(missing)}; its header is "
            f"{', '.join(sheet.header) or '(empty)'}. Add them (names are case-sensitive; {sheet.layout}) "
            f"so every row has {', '.join(required)}{what}, or name the file's own columns with "
            f"--metadata_columns (e.g. {_COLUMNS_EXAMPLE}).")


def judge(sheet: Sheet, listing: Optional[Iterable[str]] = None) -> Tuple[List[str], List[ClipRow]]:
    """A per-video file: checks its header and turns every data line into a ClipRow.

    listing: the files under --video_dir (relative paths); given, a video_file that names one of
    them in another Unicode normalization is read as that file's name (match_normalization).
    """
    check_columns(sheet, REQUIRED_COLUMNS, "")
    rows = [judge_line(sheet.header, values, line) for line, values in sheet.lines]
    mark_sentence_conflicts(rows)
    if listing is not None:
        match_normalization(rows, listing, sheet.source)
    mark_duplicates(rows)
    return sheet.header, rows


def judge_line(header: List[str], values: List[str], line: int) -> ClipRow:
    """One line of a per-video file as a row, judged on its own (the checks that need other rows or the
    listing come after: mark_sentence_conflicts, match_normalization, mark_duplicates, the plan)."""
    fields = dict(zip(header, values))
    row = ClipRow(
        line=line,
        video_file=fields.get("video_file", "").strip(),
        sentence_id=fields.get("sentence_id", "").strip(),
        sentence=fields.get("sentence", ""),
        category=fields.get("category", ""),
        extra={k: fields.get(k, "") for k in header if k not in REQUIRED_COLUMNS},
    )
    if line_problem(header, values, line):
        row.error = line_problem(header, values, line)
    elif unsafe_path_reason(row.video_file):
        row.error = f"unsafe path: {unsafe_path_reason(row.video_file)}"
    elif sentence_id_error(row.sentence_id):
        row.error = sentence_id_error(row.sentence_id)
    else:
        row.written_id = row.sentence_id
        row.sentence_id = normal_sentence_id(row.sentence_id)
        row.error = sentence_error(row.sentence)
    if not row.error:
        # Normalized here, once: a local folder forgives "./a.mp4" and "a//b.mp4", a bucket
        # does not (its object is "a.mp4"), and every output path derives from this name.
        row.video_file = posixpath.normpath(row.video_file)
    return row


def line_problem(header: List[str], values: List[str], line: int) -> Optional[str]:
    """Why a line of the file cannot be read as a row at all, or None: a quote left open, a formula with no
    value saved, the wrong number of fields. A per-video row and a sentence table's line alike."""
    if isinstance(values, OpenQuote):
        column = header[len(values) - 1] if 0 < len(values) <= len(header) else f"field {len(values)}"
        if values.swallowed == 0:
            what = "that is never closed (the file ends inside it)"
        elif values.swallowed is not None:
            what = (f"that is never closed, so every line after it ({values.swallowed}) would have been read into "
                    f"that one field")
        else:
            what = "that runs over more than 128 KiB (it is never closed, or closed far from where it was meant)"
        return (f"line {line} opens a quote (\") in its {column} field {what}: this row is refused and the lines "
                f"after it are read on their own. Close the quote, or write a quote that is part of the text as "
                f"two (\"\")")
    formulas = [(i, v) for i, v in enumerate(values) if isinstance(v, FormulaCell)]
    if formulas:
        cells = ", ".join(f"{column_letter(i)}{line} ({header[i] if i < len(header) else 'no column'}) "
                          f"holds the formula {v.formula}" for i, v in formulas[:3])
        return (f"{cells} with no value saved in the workbook, so its value cannot be read: open the workbook in "
                f"Excel or LibreOffice and save it (they save each formula's value), or replace the formula by "
                f"its value")
    if len(values) != len(header):
        return field_count_error(values, header, line)
    return None


def field_count_error(values: List[str], header: List[str], line: Optional[int] = None) -> str:
    message = (f"Row has {len(values)} fields but the header has {len(header)}: "
               f"check for an unquoted comma or a missing field")
    if line is not None and any("\n" in v or "\r" in v for v in values):
        # A quote that closes far from where it opened makes one field of several lines.
        message += (f", and for a quote (\") that closes lines after it opened: a field of this row, from line "
                    f"{line}, runs over several lines")
    return message


def sentence_id_error(sentence_id: str) -> Optional[str]:
    """Why a sentence id cannot be used, or None: an integer written with 0-9 that the release's int64 holds."""
    if not _INTEGER.match(sentence_id):
        if _DIGITS.match(sentence_id):
            return (f"sentence_id {sentence_id!r} is written with digits other than 0-9 (full-width or another "
                    f"script's); write it with 0-9")
        return f"sentence_id {sentence_id!r} is not an integer"
    if not SENTENCE_ID_MIN <= int(sentence_id) <= SENTENCE_ID_MAX:
        return (f"sentence_id {sentence_id!r} is outside the range of the release's sentence_id, a 64-bit integer "
                f"({SENTENCE_ID_MIN} to {SENTENCE_ID_MAX}); give the sentence a smaller id")
    return None


def sentence_error(sentence: str) -> Optional[str]:
    """Why a row's sentence cannot be used, or None: a clip without its text is no training pair, and
    would be released as one with an empty target."""
    if not sentence:
        return "sentence is empty: the row has no sentence text; fill it in"
    if is_blank(sentence):
        return (f"sentence is empty: it holds only spaces or invisible characters ({sentence!r}); "
                f"fill it in")
    return None


_FORMULA_START = ("=", "+", "-", "@")


def formula_like(value: str) -> bool:
    """A spreadsheet opening a CSV would take this cell for a formula: it starts with =, +, - or @ and is not a
    plain number (-5 and +7 are numbers; =1+1, +1+1, @SUM(A1), -A1 and +1.mp4 are not)."""
    if not value or not value.startswith(_FORMULA_START):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def is_blank(text: str) -> bool:
    """Nothing a reader would see: whitespace (no-break spaces included) and format characters
    (zero-width spaces and joiners, a stray BOM)."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def normal_sentence_id(sentence_id: str) -> str:
    """An integer sentence id as one spelling: " 007 " and "7" are the same sentence."""
    return str(int(sentence_id))


def parse_columns(text: Optional[str]) -> Dict[str, str]:
    """--metadata_columns: `ours=theirs` pairs separated by commas → {ours: theirs}; empty → {}.

    Either side may be quoted ("…" or '…'), which a name with a comma, an equals sign or
    spaces at its ends needs; bare names are stripped. Ours is one of REQUIRED_COLUMNS.
    """
    if text is None or not text.strip():
        return {}
    mapping: Dict[str, str] = {}
    position = 0
    while True:
        ours, position = _name(text, position)
        if not text.startswith("=", position):
            raise _columns_error(text, f"expected = after {ours!r}" if ours else "expected ours=theirs")
        theirs, position = _name(text, position + 1)
        if not ours or not theirs:
            raise _columns_error(text, "a pair has an empty name")
        if ours not in REQUIRED_COLUMNS:
            raise _columns_error(text, f"{ours!r} is not one of our columns ({', '.join(REQUIRED_COLUMNS)})")
        if ours in mapping:
            raise _columns_error(text, f"{ours} is mapped twice")
        if theirs in mapping.values():
            raise _columns_error(text, f"the file's column {theirs!r} is mapped twice")
        mapping[ours] = theirs
        if position == len(text):
            return mapping
        if text[position] != ",":
            raise _columns_error(text, f"unexpected {text[position]!r} at character {position + 1}")
        position += 1


def _name(text: str, position: int) -> Tuple[str, int]:
    found = _NAME.match(text, position)
    double, single, bare = found.groups()
    name = double if double is not None else single if single is not None else bare.strip()
    return name, found.end()


def _columns_error(text: str, problem: str) -> MetadataError:
    return MetadataError(f"--metadata_columns={text}: {problem}. Write ours=theirs pairs separated by commas, "
                         f"quoting a name that has spaces or commas, e.g. {_COLUMNS_EXAMPLE}.")


def rename_columns(header: List[str], columns: Optional[Dict[str, str]], source: str) -> List[str]:
    """The header with the file's names replaced by ours; logs which mapping was used.

    columns given: exactly that mapping, every column it names must exist. Not given:
    the published SignTalk-GH headers when all of them, and none of our names, are there;
    else the header as it is.
    """
    if columns:
        absent = [f"{theirs!r} (for {ours})" for ours, theirs in columns.items() if theirs not in header]
        if absent:
            raise MetadataError(
                f"--metadata_columns names column(s) the {source} does not have: {', '.join(absent)}. Its columns "
                f"are {', '.join(repr(h) for h in header) or '(none)'}; names are case-sensitive.")
        clashes = [ours for ours, theirs in columns.items() if ours in header and ours != theirs]
        if clashes:
            raise MetadataError(
                f"--metadata_columns maps a column to {', '.join(clashes)}, but the {source} already has a column "
                f"named so; map only columns the file names differently.")
        mapping, origin = columns, "--metadata_columns"
    elif (all(theirs in header for theirs in PUBLISHED_COLUMNS.values())
          and not any(ours in header for ours in PUBLISHED_COLUMNS)):
        mapping, origin = PUBLISHED_COLUMNS, "the published SignTalk-GH headers"
    else:
        return header
    LOG.info("Columns of the %s: %s (%s)", source,
             ", ".join(f"{ours} = {theirs!r}" for ours, theirs in mapping.items()), origin)
    ours_of = {theirs: ours for ours, theirs in mapping.items()}
    return [ours_of.get(name, name) for name in header]


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


def mark_sentence_conflicts(rows: Iterable[ClipRow]) -> None:
    """One sentence id is one sentence: the first row of an id (by line) sets how it is written and its text;
    a later row that writes the id otherwise (007 and 7 are one integer in the release) or gives it another
    text fails, naming that line. Rows already refused take no part.

    Only rows of the same id are compared, so this gives the same reasons over the whole file (the launcher)
    or over each id's rows apart (the job's join on the id, transforms/store/rows.py SentencesAgree).
    """
    first: Dict[str, ClipRow] = {}
    for row in sorted((r for r in rows if not r.error), key=lambda r: (r.line is None, r.line or 0)):
        earlier = first.setdefault(row.sentence_id, row)
        if earlier is not row:
            row.error = sentence_conflict(earlier, row)


def sentence_conflict(earlier: ClipRow, row: ClipRow) -> Optional[str]:
    """Why `row` disagrees with `earlier`, the first row of its sentence id; None when it agrees."""
    written, first_written = row.written_id or row.sentence_id, earlier.written_id or earlier.sentence_id
    if written != first_written:
        return (f"sentence_id {written!r} is the same integer, {row.sentence_id}, as {first_written!r} on line "
                f"{earlier.line} (leading zeros and signs do not count; the release stores an integer): write one "
                f"sentence's id the same way on every row, or give another sentence another id")
    if row.sentence != earlier.sentence:
        return (f"sentence_id {row.sentence_id} has another sentence on line {earlier.line} "
                f"({_shown(earlier.sentence)}; here {_shown(row.sentence)}): one sentence id is one sentence. Make "
                f"the texts the same, or give this sentence another id")
    return None


def _shown(text: str, most: int = 80) -> str:
    return repr(text if len(text) <= most else text[:most] + "…")


def mark_duplicates(rows: List[ClipRow]) -> None:
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


# --- names of videos and the files under --video_dir ----------------------------------------------

def match_normalization(rows: List[ClipRow], listing: Iterable[str], source: str) -> None:
    """Point a video_file at the listed file whose name it spells in another Unicode normalization.

    "é" can be stored as one character (NFC, what most editors write) or as "e" and a combining
    accent (NFD, what macOS writes into a file name, and keeps when it uploads). The two look the
    same, and a person cannot tell which one a file or a CSV holds; a name that differs only so is
    the same name. The row then carries the file's own name (its reports and outputs are named
    after the file read), and the log says which rows were matched so.
    """
    listed = set(listing)
    unmatched = [row for row in rows if not row.error and row.video_file not in listed]
    if not unmatched:
        return
    by_form: Dict[str, List[str]] = {}
    for name in listed:
        by_form.setdefault(unicodedata.normalize("NFC", name), []).append(name)
    matched = []
    for row in unmatched:
        found = by_form.get(unicodedata.normalize("NFC", row.video_file), [])
        if len(found) == 1:
            matched.append((row.line, row.video_file, found[0]))
            row.video_file = found[0]
    if matched:
        line, written, stored = matched[0]
        LOG.warning(
            "%d video_file name(s) of the %s differ from their file's name only in Unicode normalization (how "
            "accented letters are encoded; macOS stores file names decomposed): matched, and the reports and "
            "outputs use the file's name. E.g. line %s: %r, written %s, stored %s.",
            len(matched), source, line, written, form(written), form(stored))


def form(name: str) -> str:
    """The Unicode normalization a name is written in, in words."""
    for form in ("NFC", "NFD"):
        if unicodedata.is_normalized(form, name):
            return form
    return "in neither NFC nor NFD"


class NearNames:
    """For a video_file the listing lacks, the listed files a person probably meant.

    A name that differs only in letter case, in spaces (at the ends of its parts or of its stem,
    or repeated), in invisible characters, or in compatibility characters (full-width letters,
    ligatures) is a near match;
    failing that, the same name with another extension, or in another folder. None of these is
    taken for the file (on GCS, and on most local disks, they are other names); the reason
    names them so the row or the file can be fixed.
    """

    def __init__(self, listing: Iterable[str]):
        self._by_key: Dict[Tuple[str, str], List[str]] = {}
        for name in sorted(listing):
            for key in near_keys(name):
                self._by_key.setdefault(key, []).append(name)

    def hint(self, video_file: str) -> Optional[str]:
        """"did you mean 'Clip.MP4' (letter case differs)?", or None when nothing is near."""
        return near_hint(video_file, {kind: self._by_key[(kind, key)] for kind, key in near_keys(video_file)
                                      if (kind, key) in self._by_key})


def near_keys(name: str) -> List[Tuple[str, str]]:
    """The keys under which a name is near another: the whole name read loosely, the same without its
    extension, its file name alone."""
    loose = _loose(name)
    return [("same", loose), ("stem", posixpath.splitext(loose)[0]), ("base", posixpath.basename(loose))]


def near_hint(video_file: str, candidates: Dict[str, List[str]]) -> Optional[str]:
    """What NearNames.hint says, from the listed names that share each near_keys kind with video_file
    (sorted): the same name read loosely first, then another extension, then another folder."""
    found = candidates.get("same")
    if found:
        return _did_you_mean(found, _differences(video_file, found[0]))
    found = [n for n in candidates.get("stem", []) if n != video_file]
    if found:
        return _did_you_mean(found, "another extension")
    found = [n for n in candidates.get("base", []) if n != video_file]
    if found:
        return _did_you_mean(found, "in another folder")
    return None


# What a person does not see, or does not mean, in a name: each forgiven when names are compared
# loosely (NearNames), and named when a near match differs by it.
_LOOSE_STEPS = (
    ("spaces at the start or end of a name differ", lambda part: _around_extension(part, str.strip)),
    ("repeated spaces inside a name differ", lambda part: _around_extension(part, lambda t: re.sub(r"\s+", " ", t))),
    ("invisible characters (zero-width spaces…) differ",
     lambda part: "".join(c for c in part if unicodedata.category(c) != "Cf")),
    ("full-width or other compatibility characters differ", lambda part: unicodedata.normalize("NFKC", part)),
    ("letter case differs", str.casefold),
)


def _around_extension(part: str, change) -> str:
    """`change` applied to a name's stem and to its extension apart: "clip .mp4 " is "clip" and ".mp4"."""
    stem, extension = posixpath.splitext(part)
    return change(stem) + change(extension)


def _loose(name: str, keep: Optional[str] = None) -> str:
    """A name as a person reads it: every part in NFC with each difference of _LOOSE_STEPS (but `keep`)
    forgiven."""
    parts = []
    for part in name.split("/"):
        for what, step in _LOOSE_STEPS:
            if what != keep:
                part = step(part)
        parts.append(unicodedata.normalize("NFC", part).strip() if keep is None else
                     unicodedata.normalize("NFC", part))
    return "/".join(parts)


def _differences(written: str, stored: str) -> str:
    """In words, the differences without which two names that match loosely would not match."""
    found = [what for what, _ in _LOOSE_STEPS if _loose(written, keep=what) != _loose(stored, keep=what)]
    return "; ".join(found) or "several files have this name in different Unicode normalizations"


def _did_you_mean(names: List[str], what: str) -> str:
    forms = [unicodedata.normalize("NFC", n) for n in names]
    # Names that differ only in normalization print the same: say which is which.
    shown = [f"{n!r} ({form(n)})" if forms.count(f) > 1 else repr(n) for n, f in zip(names, forms)]
    more = f" (or {len(names) - 3} more)" if len(names) > 3 else ""
    return f"did you mean {' or '.join(shown[:3])}{more} ({what})?"
