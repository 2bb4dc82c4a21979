"""Reading the metadata: real-world CSV, Excel workbooks, and a clear reason for every unusable row."""
import contextlib
import logging
import unicodedata

import pytest

from transforms.store import metadata

HEADER = "video_file,sentence_id,sentence,category"


def parse(text):
    return metadata.parse(text)


def test_quoted_commas_newlines_bom_and_crlf():
    text = "\ufeff" + HEADER + ",signer\r\n" + 'a.mp4,1,"Hello, friend",greeting,Ama\r\n' \
        + 'b.mp4,2,"Two\r\nlines",misc,Kofi\r\n' + "c.mp4,3,Plain,misc,Esi\r\n"
    header, rows = parse(text)
    assert header == ["video_file", "sentence_id", "sentence", "category", "signer"]
    assert [r.sentence for r in rows] == ["Hello, friend", "Two\r\nlines", "Plain"]
    assert [r.line for r in rows] == [2, 3, 5]  # b.mp4 spans lines 3-4
    assert rows[0].extra == {"signer": "Ama"}
    assert all(r.error is None for r in rows)


def test_blank_lines_are_not_rows():
    _, rows = parse(HEADER + "\n\na.mp4,1,Hi,x\n\n")
    assert [(r.video_file, r.line) for r in rows] == [("a.mp4", 3)]


@pytest.mark.parametrize("video_file", [
    "", "/etc/passwd", "../secret.mp4", "clips/../../x.mp4", "gs://other-bucket/x.mp4",
    "https://example.com/x.mp4", "C:\\videos\\x.mp4", "\\\\server\\share.mp4",
])
def test_unsafe_paths_fail(video_file):
    _, rows = parse(f'{HEADER}\n"{video_file}",1,Hi,x\n')
    assert rows[0].error.startswith("unsafe path")


def test_nested_relative_paths_are_fine():
    _, rows = parse(f"{HEADER}\nsigner1/day2/a.mp4,1,Hi,x\n./b.mp4,2,Hi,x\n")
    assert [r.error for r in rows] == [None, None]
    assert rows[0].feature_stem == "signer1/day2/a" and rows[1].feature_stem == "b"


@pytest.mark.parametrize("sentence_id", ["abc", "1.5", "", "1e3"])
def test_non_integer_sentence_id_fails(sentence_id):
    _, rows = parse(f"{HEADER}\na.mp4,{sentence_id},Hi,x\n")
    assert "not an integer" in rows[0].error


def test_integer_sentence_id_is_normalized():
    _, rows = parse(f"{HEADER}\na.mp4, 007 ,Hi,x\n")
    assert rows[0].error is None and rows[0].sentence_id == "7"


def test_duplicate_video_names_the_first_line():
    _, rows = parse(f"{HEADER}\na.mp4,1,Hi,x\nb.mp4,2,Yo,x\n./a.mp4,3,Again,x\n")
    assert rows[0].error is None and rows[1].error is None
    assert rows[2].error.startswith("duplicate of line 2")


def test_videos_that_would_write_the_same_features_are_duplicates():
    _, rows = parse(f"{HEADER}\nclip.mp4,1,Hi,x\nclip.mov,2,Yo,x\n")
    assert rows[1].error.startswith("duplicate of line 2") and "clip.npy" in rows[1].error


def test_a_bad_row_does_not_claim_its_video():
    _, rows = parse(f"{HEADER}\na.mp4,zz,Hi,x\na.mp4,2,Hi,x\n")
    assert rows[0].error and rows[1].error is None


def test_row_with_wrong_field_count_fails():
    _, rows = parse(f"{HEADER}\na.mp4,1,Hello, world,x\n")
    assert "5 fields but the header has 4" in rows[0].error


@pytest.mark.parametrize("header", ["video,sentence_id,sentence,category", "video_file;sentence_id;sentence;category"])
def test_missing_columns_stop_with_how_to_fix(header):
    with pytest.raises(metadata.MetadataError, match="lacks the column"):
        parse(header + "\na.mp4,1,Hi,x\n")


def test_empty_file_stops():
    with pytest.raises(metadata.MetadataError, match="empty"):
        parse("")


def test_unreadable_file_stops(tmp_path):
    with pytest.raises(metadata.MetadataError, match="Cannot read the metadata CSV"):
        metadata.read(str(tmp_path / "nope.csv"))


def test_non_utf8_file_stops(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\na.mp4,1,Akwaaba ñ,x\n").encode("latin-1"))
    with pytest.raises(metadata.MetadataError, match="not UTF-8"):
        metadata.read(str(path))


def test_wrong_case_headers_stop_saying_names_are_case_sensitive():
    with pytest.raises(metadata.MetadataError, match="lacks the column.*case-sensitive"):
        parse("Video_File,Sentence_ID,Sentence,Category\na.mp4,1,Hi,x\n")


def _workbook(path, rows):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("Notes").append(["not", "read"])
    book.save(path)
    return str(path)


def test_an_xlsx_workbook_is_read_from_its_first_sheet(tmp_path):
    path = _workbook(tmp_path / "Metadata.xlsx", [
        ["video_file", "sentence_id", "sentence", "category", "signer", None],
        ["a.mp4", 12, "Akwaaba, ɛyɛ", "greeting", "Ama"],
        [None, None, None, None],
        ["b.mp4", 13.0, "Two\nlines", "misc", None, None],
        ["c.mp4", "7", "Text id", "misc", 3.5],
    ])
    header, rows = metadata.read(path)
    assert header == ["video_file", "sentence_id", "sentence", "category", "signer"]
    assert [(r.video_file, r.sentence_id, r.line) for r in rows] == [("a.mp4", "12", 2), ("b.mp4", "13", 4),
                                                                      ("c.mp4", "7", 5)]
    assert rows[0].sentence == "Akwaaba, ɛyɛ" and rows[1].sentence == "Two\nlines"
    assert [r.extra["signer"] for r in rows] == ["Ama", "", "3.5"]
    assert all(r.error is None for r in rows)


def test_a_workbook_is_recognised_by_its_content_whatever_its_name(tmp_path):
    path = _workbook(tmp_path / "metadata.csv", [["video_file", "sentence_id", "sentence", "category"],
                                                 ["a.mp4", 1, "Hi", "x"]])
    _, [row] = metadata.read(path)
    assert (row.video_file, row.sentence_id) == ("a.mp4", "1")


def test_a_workbook_missing_a_column_stops_with_how_to_fix(tmp_path):
    path = _workbook(tmp_path / "Metadata.xlsx", [["video", "sentence_id", "sentence", "category"], ["a.mp4", 1, "Hi", "x"]])
    with pytest.raises(metadata.MetadataError, match="workbook .* lacks the column.s. video_file.*first sheet"):
        metadata.read(path)


def test_a_cell_past_the_header_is_reported_on_its_row(tmp_path):
    path = _workbook(tmp_path / "Metadata.xlsx", [["video_file", "sentence_id", "sentence", "category"],
                                                 ["a.mp4", 1, "Hi", "x", "stray"]])
    _, [row] = metadata.read(path)
    assert "5 fields but the header has 4" in row.error


def test_an_old_xls_workbook_stops_saying_how_to_export_it(tmp_path):
    path = tmp_path / "Metadata.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(metadata.MetadataError, match="old Excel .xls.*save it as .xlsx"):
        metadata.read(str(path))


# --- column names: --metadata_columns and the published SignTalk-GH headers ----------

PUBLISHED_HEADER = ["Sentence ID", "Sentence Text", "Category"]


@contextlib.contextmanager
def ghsl_log(caplog):
    """The "ghsl" logger's records, also once an entry point has stopped it propagating to the root."""
    logger = logging.getLogger("ghsl")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def test_a_column_mapping_takes_quoted_and_bare_names():
    assert metadata.parse_columns('sentence_id="Sentence ID", sentence=\'Sentence, Text\',category=Category') == {
        "sentence_id": "Sentence ID", "sentence": "Sentence, Text", "category": "Category"}


def test_an_empty_column_mapping_maps_nothing():
    assert metadata.parse_columns(None) == {} and metadata.parse_columns("  ") == {}


@pytest.mark.parametrize("text, problem", [
    ("sentence_id", "expected = after 'sentence_id'"),
    ("sentence_id=", "empty name"),
    ("sentense=Text", "'sentense' is not one of our columns"),
    ("sentence=A,sentence=B", "sentence is mapped twice"),
    ("sentence=A,category=A", "column 'A' is mapped twice"),
    ('sentence="Sentence Text"x', "unexpected 'x'"),
])
def test_a_malformed_column_mapping_says_how_to_write_one(text, problem):
    with pytest.raises(metadata.MetadataError) as error:
        metadata.parse_columns(text)
    assert problem in str(error.value) and 'sentence_id="Sentence ID"' in str(error.value)


def test_a_mapping_renames_the_files_headers_to_ours():
    header = "File,ID,Text,Kind,signer"
    _, [row] = metadata.judge(metadata.sheet_of_csv(
        f"{header}\na.mp4,7,Hi,x,Ama\n", "metadata CSV m.csv",
        metadata.parse_columns("video_file=File,sentence_id=ID,sentence=Text,category=Kind")))
    assert (row.video_file, row.sentence_id, row.sentence, row.category, row.extra) == (
        "a.mp4", "7", "Hi", "x", {"signer": "Ama"})


def test_a_mapping_naming_an_absent_column_lists_the_columns_the_file_has():
    with pytest.raises(metadata.MetadataError) as error:
        metadata.sheet_of_csv("Sentence ID,Text,Category\n1,Hi,x\n", "metadata CSV m.csv",
                              metadata.parse_columns('sentence_id="Sentence ID",sentence="Sentence Text"'))
    message = str(error.value)
    assert "'Sentence Text' (for sentence)" in message
    assert "'Sentence ID', 'Text', 'Category'" in message


def test_a_mapping_onto_a_column_the_file_already_has_stops():
    with pytest.raises(metadata.MetadataError, match="already has a column named so"):
        metadata.sheet_of_csv("sentence,Text,sentence_id,category\nA,B,1,x\n", "metadata CSV m.csv",
                              {"sentence": "Text"})


def test_the_published_headers_are_recognised_without_a_mapping(tmp_path, caplog):
    path = _workbook(tmp_path / "Metadata.xlsx", [PUBLISHED_HEADER, [1000, "I have a headache", "General"]])
    with ghsl_log(caplog):
        sheet = metadata.load(path)
    assert sheet.header == ["sentence_id", "sentence", "category"] and sheet.is_sentence_table
    assert sheet.lines == [(2, ["1000", "I have a headache", "General"])]
    assert "sentence_id = 'Sentence ID'" in caplog.text and "published SignTalk-GH headers" in caplog.text


def test_the_published_headers_beside_one_of_ours_are_left_as_they_are():
    sheet = metadata.sheet_of_csv(",".join(PUBLISHED_HEADER + ["sentence"]) + "\n1,Hi,x,y\n", "metadata CSV m.csv")
    assert sheet.header == PUBLISHED_HEADER + ["sentence"]


def test_a_given_mapping_wins_over_the_published_headers(caplog):
    with ghsl_log(caplog):
        sheet = metadata.sheet_of_csv(",".join(PUBLISHED_HEADER + ["Gloss"]) + "\n1,Hi,x,y\n", "metadata CSV m.csv",
                                      {"sentence_id": "Sentence ID", "sentence": "Gloss", "category": "Category"})
    assert sheet.header == ["sentence_id", "Sentence Text", "category", "sentence"]
    assert "(--metadata_columns)" in caplog.text


def test_a_per_video_file_is_read_with_no_mapping_logged(caplog):
    with ghsl_log(caplog):
        header, _ = metadata.parse(f"{HEADER}\na.mp4,1,Hi,x\n")
    assert header == HEADER.split(",") and "Columns of" not in caplog.text


# --- sentences that say nothing --------------------------------------------------------------------

@pytest.mark.parametrize("sentence", ['""', '"   "', '"\t"', '"\u00a0"', '"\u200b"', '"\ufeff \u2060"', '"\r\n"'])
def test_an_empty_or_blank_sentence_fails_with_how_to_fix(sentence):
    _, rows = parse(f"{HEADER}\na.mp4,1,{sentence},x\nb.mp4,2,Hello,x\n")
    assert rows[0].error.startswith("sentence is empty") and rows[0].error.endswith("fill it in")
    assert rows[1].error is None


def test_a_blank_sentence_does_not_claim_its_video():
    _, rows = parse(f'{HEADER}\na.mp4,1," ",x\na.mp4,2,Hello,x\n')
    assert rows[0].error.startswith("sentence is empty") and rows[1].error is None


def test_a_sentence_tables_blank_line_fails_with_its_videos():
    from transforms.store import sentence_table

    sheet = metadata.sheet_of_csv('sentence_id,sentence,category\n1," ",c\n2,Fine,c\n', "metadata CSV t.csv")
    _, rows = sentence_table.pair(sheet, ["1A.mp4", "2A.mp4"], sentence_table.compile_pattern(
        r"(?P<sentence_id>\d+)(?P<take>[A-Z])"))
    assert [(r.line, r.video_file) for r in rows] == [(2, ""), (2, "1A.mp4"), (3, "2A.mp4")]
    assert rows[0].error.startswith("sentence is empty")
    assert "line 2 of the table, cannot be used (sentence is empty" in rows[1].error and rows[2].error is None


def test_a_sentence_table_with_no_line_stops_saying_so():
    from transforms.store import sentence_table

    sheet = metadata.sheet_of_csv("sentence_id,sentence,category\n\n", "metadata CSV t.csv")
    with pytest.raises(sentence_table.NoSentences, match="metadata CSV t.csv has no rows"):
        sentence_table.pair(sheet, ["1A.mp4"], sentence_table.compile_pattern(r"(?P<sentence_id>\d+)(?P<take>[A-Z])"))


# --- names against the listing of --video_dir -----------------------------------------------------

def judged(text, listing):
    return metadata.judge(metadata.sheet_of_csv(text, "metadata CSV m.csv"), listing)[1]


@pytest.mark.parametrize("written, stored", [("NFC", "NFD"), ("NFD", "NFC")])
def test_a_name_in_another_unicode_normalization_is_the_files_name(written, stored, caplog):
    name = "signer é/Ɔkɔm ŋ café.mp4"
    as_written, as_stored = unicodedata.normalize(written, name), unicodedata.normalize(stored, name)
    with ghsl_log(caplog):
        [row] = judged(f"{HEADER}\n{as_written},1,Hi,x\n", [as_stored, "other.mp4"])
    assert row.video_file == as_stored and row.error is None
    assert "1 video_file name(s)" in caplog.text and "only in Unicode normalization" in caplog.text
    assert f"written {written}" in caplog.text and f"stored {stored}" in caplog.text


def test_an_exact_name_is_kept_and_nothing_is_logged(caplog):
    nfc = unicodedata.normalize("NFC", "é.mp4")
    with ghsl_log(caplog):
        rows = judged(f"{HEADER}\n{nfc},1,Hi,x\n", [nfc, unicodedata.normalize("NFD", nfc)])
    assert rows[0].video_file == nfc and "normalization" not in caplog.text


def test_two_rows_naming_one_file_in_two_normalizations_are_duplicates():
    nfc, nfd = unicodedata.normalize("NFC", "é.mp4"), unicodedata.normalize("NFD", "é.mp4")
    rows = judged(f"{HEADER}\n{nfc},1,Hi,x\n{nfd},2,Yo,x\n", [nfd])
    assert rows[0].video_file == nfd and rows[0].error is None
    assert rows[1].error.startswith("duplicate of line 2")


def test_a_name_two_files_match_by_normalization_is_left_for_the_reason_to_name_both():
    nfc, nfd = unicodedata.normalize("NFC", "é.mp4"), unicodedata.normalize("NFD", "é.mp4")
    listing = [nfc, nfd]
    [row] = judged(f"{HEADER}\n{nfc.upper()},1,Hi,x\n", listing)
    assert row.video_file == nfc.upper()
    hint = metadata.NearNames(listing).hint(row.video_file)
    assert "(NFC)" in hint and "(NFD)" in hint and "letter case differs" in hint


@pytest.mark.parametrize("written, stored, differs", [
    ("clip.mp4", "Clip.MP4", "letter case differs"),
    ("trailing.mp4", "trailing.mp4 ", "spaces at the start or end of a name differ"),
    ("lead.mp4", " lead.mp4", "spaces at the start or end of a name differ"),
    ("signer 1/a.mp4", "signer 1 /a.mp4", "spaces at the start or end of a name differ"),
    ("clip.mp4", "clip .mp4", "spaces at the start or end of a name differ"),
    ("my clip.mp4", "my  clip.mp4", "repeated spaces inside a name differ"),
    ("Signer/A.mp4", "signer /a.mp4", "spaces at the start or end of a name differ; letter case differs"),
    ("zero.mp4", "ze\u200bro.mp4", "invisible characters (zero-width spaces…) differ"),
    ("cat1.mp4", "ｃａｔ１.mp4", "full-width or other compatibility characters differ"),
])
def test_a_near_miss_is_named_with_how_it_differs(written, stored, differs):
    hint = metadata.NearNames([stored, "unrelated.mp4"]).hint(written)
    assert hint == f"did you mean {stored!r} ({differs})?"


def test_another_extension_or_folder_is_named_when_nothing_nearer_is():
    near = metadata.NearNames(["clip.mov", "day2/take.mp4", "day3/take.mp4"])
    assert near.hint("clip.mp4") == "did you mean 'clip.mov' (another extension)?"
    assert near.hint("take.mp4") == "did you mean 'day2/take.mp4' or 'day3/take.mp4' (in another folder)?"
    assert near.hint("absent.mp4") is None
