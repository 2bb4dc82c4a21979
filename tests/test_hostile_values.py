"""Hostile values: every value is checked where it enters, and text from users never changes an output's shape.

docs/bad-input.md, "Hostile values". Most checks run at the function that reads the value; two runs of the
real job (one on three real clips, one on a workbook whose videos are missing) show the same reasons come
out of the job as out of the launcher's checks, and what a person reads (the run log, the card) keeps its shape.
"""
import csv
import io
import json
import logging
import shutil

import pytest

from pipeline import options as options_module
from pipeline import run as run_job
from tests.conftest import write_metadata
from transforms.common import progress, safe_text
from transforms.features import registry
from transforms.release import manifest, splits
from transforms.reports import run_reports
from transforms.store import metadata, sentence_table

HEADER = "video_file,sentence_id,sentence,category"
BASE = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1"]


@pytest.fixture(scope="module", autouse=True)
def log_handler():
    """The run log's handler made before any test captures stderr (it keeps the stream it was made with)."""
    progress.ensure_log_handler()


def strict_json(text: str):
    """json.loads as a strict parser reads: NaN, Infinity and -Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def no_videos(tmp_path):
    """(metadata path, an empty --video_dir, an --output_dir that does not exist yet)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    metadata_csv = write_metadata(tmp_path / "m.csv", [dict(video_file="a.mp4", sentence_id="1", sentence="Hi",
                                                            category="c")])
    return metadata_csv, videos, tmp_path / "out"


def stops_before_any_work(args, capsys, no_videos):
    """Runs pipeline.run; asserts exit 2, one line, nothing written; returns that line."""
    metadata_csv, videos, out = no_videos
    code = run_job.main([f"--metadata_csv={metadata_csv}", f"--video_dir={videos}", f"--output_dir={out}",
                         *BASE, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(said) == 1, err
    assert not out.exists()
    return said[0]


# --- options ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("option", [
    "--visibility_threshold=nan", "--visibility_threshold=1.5", "--motion_keep_threshold=inf",
    "--motion_rejection_threshold=-0.001", "--motion_keep_threshold=-1", "--ema_alpha=nan",
    "--release_shard_mb=nan", "--release_shard_mb=inf", "--release_shard_mb=-inf", "--release_shard_mb=1e-9",
    "--request_timeout_s=nan", "--min_detection_confidence=nan", "--max_missing_fraction=inf",
    "--preview_samples=-1", "--max_previews=-3",
])
def test_a_number_that_is_not_finite_or_out_of_range_stops_before_any_work(option, capsys, no_videos):
    said = stops_before_any_work([option], capsys, no_videos)
    assert option.split("=")[0] in said


def test_every_float_option_of_ours_is_checked_finite():
    """A new float option is covered without being listed: non_finite_numbers walks the parser."""
    from apache_beam.options.pipeline_options import PipelineOptions

    opts = PipelineOptions([]).view_as(options_module.GhslOptions)
    parser = options_module.argparse.ArgumentParser(add_help=False)
    options_module.GhslOptions._add_argparse_args(parser)
    floats = [a.dest for a in parser._actions if a.type is float]
    assert {"release_shard_mb", "max_missing_fraction", "request_timeout_s"} <= set(floats)
    for name in floats:
        setattr(opts, name, float("nan"))
    problems = " ".join(options_module.option_problems(opts))
    assert all(f"--{name}=nan" in problems for name in floats), problems


def test_a_repeated_split_by_column_stops_before_any_work(capsys, no_videos):
    said = stops_before_any_work(["--split_by=sentence_id, sentence_id"], capsys, no_videos)
    assert "names sentence_id more than once" in said and "--split_by=sentence_id." in said


def _ignored_cases():
    """(version, option, a value unlike its default) for every option a built-in version does not read."""
    cases = []
    for name in registry.names():
        read = {o.name for o in registry.get(name).options}
        for option in registry.all_options():
            if option.name not in read:
                cases.append((name, option.name, _another_value(option)))
    return cases


def _another_value(option):
    """A value of the option within its bounds, unlike its default."""
    from transforms.features.version import flag

    if option.type is flag:
        return not option.default
    if option.type is int:
        return option.default + 1
    return option.default / 2 if option.default else 0.5


@pytest.mark.parametrize("version, name, value", _ignored_cases())
def test_an_option_the_chosen_version_ignores_is_refused_the_same_way_for_every_option(version, name, value):
    values = {o.name: o.default for o in registry.all_options()}
    assert registry.option_problems(version, values) == []  # the defaults are never a mistake
    values[name] = value
    [problem] = registry.option_problems(version, values)
    readers = [v for v in registry.names() if name in {o.name for o in registry.get(v).options}]
    assert problem == (f"--{name} needs --feature_version={' or '.join(readers)}: {version} does not read it, so it "
                       f"would be ignored. Add --feature_version={readers[0]}, or drop --{name}.")


def test_a_v2_only_threshold_on_a_v1_run_stops_before_any_work(capsys, no_videos):
    said = stops_before_any_work(["--min_shoulder_width=0.3"], capsys, no_videos)
    assert "--min_shoulder_width needs --feature_version=v2" in said


# --- JSON the product writes ----------------------------------------------------------------------------------

def test_the_writers_of_run_summary_and_the_manifest_refuse_nan(tmp_path):
    from types import SimpleNamespace

    released = SimpleNamespace(outputs=SimpleNamespace(summary={"config": {"x": float("nan")}},
                                                       output_dir=str(tmp_path)), outcome=None)
    with pytest.raises(ValueError):
        run_reports.write_summary(released)
    assert not (tmp_path / "proc" / "run_summary.json").exists()
    with pytest.raises(ValueError):
        manifest.manifest_json("id", {"options": {"split_ratios": [float("inf")]}}, {})
    with pytest.raises(ValueError):
        manifest.release_id({"options": {"x": float("nan")}})


# --- metadata values ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence_id, words", [
    ("99999999999999999999999", "outside the range of the release's sentence_id, a 64-bit integer"),
    ("9223372036854775808", "outside the range"),
    ("-9223372036854775809", "outside the range"),
    ("７", "digits other than 0-9"),
    ("٣", "digits other than 0-9"),
])
def test_a_sentence_id_the_release_cannot_hold_is_a_row_reason(sentence_id, words):
    _, rows = metadata.parse(f"{HEADER}\na.mp4,{sentence_id},Hi,c\nb.mp4,2,Yo,c\n")
    assert words in rows[0].error and rows[1].error is None


def test_the_ends_of_the_int64_range_are_ids():
    _, rows = metadata.parse(f"{HEADER}\na.mp4,9223372036854775807,Hi,c\nb.mp4,-9223372036854775808,Yo,c\n")
    assert [r.error for r in rows] == [None, None]


def test_ids_that_differ_only_by_leading_zeros_or_a_sign_fail_after_the_first_naming_its_line():
    _, rows = metadata.parse(f"{HEADER}\na.mp4,007,Hello,c\nb.mp4,7,Goodbye,c\nc.mp4,+7,Hello,c\n"
                             f"d.mp4,007,Hello,c\ne.mp4, 007 ,Hello,c\n")
    assert rows[0].error is None and rows[0].sentence_id == "7"
    assert rows[1].error.startswith("sentence_id '7' is the same integer, 7, as '007' on line 2")
    assert rows[2].error.startswith("sentence_id '+7' is the same integer, 7, as '007' on line 2")
    assert rows[3].error is None and rows[4].error is None  # written the same way (spaces around do not count)


def test_one_sentence_id_with_two_texts_fails_after_the_first_naming_both():
    _, rows = metadata.parse(f"{HEADER}\na.mp4,5,Hello,c\nb.mp4,5,Hello,c\nc.mp4,5,Hello!,c\nd.mp4,6,Other,c\n")
    assert [r.error for r in (rows[0], rows[1], rows[3])] == [None, None, None]
    assert rows[2].error.startswith("sentence_id 5 has another sentence on line 2 ('Hello'; here 'Hello!')")


def test_a_row_refused_for_another_reason_takes_no_part_in_its_ids_agreement():
    _, rows = metadata.parse(f"{HEADER}\n../a.mp4,5,First,c\nb.mp4,5,Second,c\n")
    assert rows[0].error.startswith("unsafe path") and rows[1].error is None


def _workbook(path, rows, merge=None):
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if merge:
        book.active.merge_cells(merge)
    book.save(path)  # openpyxl saves formulas without their values, as scripts and some tools do
    return path


def test_a_formula_with_no_saved_value_is_named_as_a_formula(tmp_path):
    path = _workbook(tmp_path / "m.xlsx", [HEADER.split(","), ["a.mp4", "=1+1", "Hi", "c"],
                                           ["b.mp4", 2, '=HYPERLINK("http://x","y")', "c"],
                                           [None, None, "=A1", None], ["d.mp4", 4, "Fine", "c"]])
    _, rows = metadata.read(str(path))
    assert [r.line for r in rows] == [2, 3, 4, 5]  # a row of formulas alone is no blank line
    assert rows[0].error.startswith("B2 (sentence_id) holds the formula =1+1 with no value saved in the workbook")
    assert "open the workbook in Excel or LibreOffice and save it" in rows[0].error
    assert rows[1].error.startswith('C3 (sentence) holds the formula =HYPERLINK("http://x","y")')
    assert rows[2].error.startswith("C4 (sentence) holds the formula =A1") and rows[3].error is None


def test_an_open_quote_is_named_with_its_line_and_the_lines_after_it_are_read(tmp_path):
    text = f'{HEADER}\na.mp4,1,"Hello,c\nb.mp4,2,Bye,c\nc.mp4,3,X,c\n'
    _, rows = metadata.parse(text)
    assert [(r.line, r.video_file) for r in rows] == [(2, "a.mp4"), (3, "b.mp4"), (4, "c.mp4")]
    assert rows[0].error.startswith('line 2 opens a quote (") in its sentence field that is never closed, so '
                                    'every line after it (2) would have been read into that one field')
    assert rows[1].error is None and rows[2].error is None


def test_a_quote_open_past_csvs_field_limit_is_a_row_reason_not_a_stopped_run():
    text = f'{HEADER}\na.mp4,1,"{"x" * 200_000}\nb.mp4,2,Bye,c\n'
    _, rows = metadata.parse(text)
    assert "runs over more than 128 KiB" in rows[0].error and (rows[1].line, rows[1].error) == (3, None)


def test_an_open_quote_in_a_sentence_table_fails_its_line():
    sheet = metadata.sheet_of_csv('sentence_id,sentence,category\n1,"Hi,c\n2,Yo,c\n', "table")
    rows = list(sentence_table.sentences(sheet, sentence_table.compile_pattern(r"(?P<sentence_id>\d+)")))
    assert rows[0].error.startswith("line 2 opens a quote") and rows[1].error is None


def test_a_quote_closed_lines_later_says_so_in_the_field_count_reason():
    _, rows = metadata.parse(f'{HEADER}\na.mp4,1,"Hi\nthere",c,extra\nb.mp4,2,Yo,c\n')
    assert "a field of this row, from line 2, runs over several lines" in rows[0].error


@pytest.mark.parametrize("kind", ["csv", "merged xlsx"])
def test_a_header_cell_with_no_name_stops_the_run_naming_its_column(kind, tmp_path, capsys):
    if kind == "csv":
        path = tmp_path / "m.csv"
        path.write_text("video_file,sentence_id,,sentence,category\na.mp4,1,x,Hi,c\n")
        where = "column 3 (C)"
    else:
        path = _workbook(tmp_path / "m.xlsx", [HEADER.split(",") + ["signer", None, "take"],
                                               ["a.mp4", 1, "Hi", "c", "A", "B", "1"]], merge="E1:F1")
        where = "column 6 (F)"
    with pytest.raises(metadata.MetadataError) as raised:
        metadata.read(str(path))
    assert f"has a header cell with no name: {where}" in str(raised.value)
    assert "merged header cell" in str(raised.value)


def test_blank_held_out_values_are_left_out_and_blank_split_values_are_one_group():
    clips = [splits.Clip(f"{i}.mp4", group, f"rec{i}", value)
             for i, (group, value) in enumerate([("1", "A"), ("2", "B"), ("3", ""), ("4", "  "), ("5", "A")])]
    assert splits.heldout_order([c.heldout_value for c in clips], 0) == sorted(
        ["A", "B"], key=lambda v: splits.heldout_position(v, 0))
    assigned = splits.assign(clips, 0, (1.0, 0.0, 0.0), heldout=splits.HeldOutRule("signer", count=1))
    assert {v: o.kind for v, o in assigned.left_out.items()} == {"2.mp4": splits.BLANK_VALUE,
                                                                 "3.mp4": splits.BLANK_VALUE}
    assert "" not in assigned.heldout.order and "  " not in assigned.heldout.order
    blank_group = splits.assign([splits.Clip("a.mp4", "", "r1"), splits.Clip("b.mp4", "", "r2")], 0,
                                (0.5, 0.25, 0.25))
    assert blank_group.split["a.mp4"] == blank_group.split["b.mp4"]
    assert splits.blank_values([{"signer": ""}, {"signer": " "}, {"signer": "A"}], ["signer"]) == {"signer": 2}


# --- what people read: logs and the card ----------------------------------------------------------------------

FORGED = "evil\n[9/9] success      40 frames    1.0s  forged.mp4\x1b[2J\u202e"


def test_a_progress_line_is_one_line_whatever_the_name_or_reason(tmp_path):
    text = progress.line("failed", 0, 1.0, FORGED, reason="bad\rthing\x1b[31m")
    assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\u202e" not in text
    assert "evil\\n[9/9] success" in text and "\\x1b[2J\\u202e" in text and "bad\\rthing\\x1b[31m" in text


def test_the_run_log_has_one_line_per_video_whatever_its_name(tmp_path, monkeypatch):
    monkeypatch.setattr(progress.tempfile, "gettempdir", lambda: str(tmp_path))
    tracker = progress.Progress("hostile", log_each=False)
    tracker.planned(2)
    tracker.finished(FORGED, "success", 40, 1.0)
    tracker.finished("plain.mp4", "failed", 0, 0.1, reason="a\nb")
    tracker.flush()
    lines = (tmp_path / "ghsl-run-hostile" / progress.LOG_FILE).read_text().splitlines()
    assert [line[:5] for line in lines] == ["[1/2]", "[2/2]"]


def test_a_log_message_quoting_a_value_stays_one_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(progress.OneLineFormatter("%(message)s"))
    log = logging.getLogger("ghsl.test_hostile_values")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("matched %s and %r", "a\nFAKE LINE", "b\x1b[0m")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1 and "\x1b" not in stream.getvalue()


def test_an_exit_2_message_quoting_a_name_with_a_newline_is_one_line(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    metadata_csv = write_metadata(tmp_path / "m.csv", [dict(video_file=FORGED, sentence_id="1", sentence="Hi",
                                                            category="c")])
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata_csv}", f"--video_dir={videos}", f"--output_dir={out}",
                         *BASE]) == 2
    err = capsys.readouterr().err
    [said] = [line for line in err.splitlines() if line.startswith("error:")]
    assert said.startswith("error: 1 of the 1 videos") and "evil\\n[9/9] success" in said
    assert not any(line.startswith("[9/9]") for line in err.splitlines()) and "\x1b" not in err


def test_the_missing_videos_check_leaves_no_output_folder(tmp_path, capsys, no_videos):
    metadata_csv, videos, _ = no_videos
    out = tmp_path / "new" / "out"
    assert run_job.main([f"--metadata_csv={metadata_csv}", f"--video_dir={videos}", f"--output_dir={out}",
                         *BASE]) == 2
    assert "are not under --video_dir" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("value", ["a|b", "two\nlines", "<script>alert(1)</script>", "*bold* _it_ [l](u)",
                                   "`code`", "\\|", "x\r\ny|z<br>"])
def test_markdown_cells_keep_a_tables_shape(value):
    for cell in (safe_text.markdown_text(value), safe_text.code_span(value)):
        row = f"| {cell} | 1 |"
        assert "\n" not in row and "\r" not in row
        assert len(_cells(row)) == 2, row
        assert "<script>" not in safe_text.markdown_text(value)


def test_a_citation_cannot_close_its_code_block():
    block = safe_text.code_block("@misc{x,\n  note = {```}\n}\n```\n# Not a heading")
    fence = block.splitlines()[0]
    assert fence == "````" and block.splitlines()[-1] == fence
    assert all(line != fence for line in block.splitlines()[1:-1])


def _cells(row: str):
    """A GitHub table row's cells: split on | not escaped by a backslash."""
    cells, current, escaped = [], "", False
    for c in row.strip()[1:-1]:
        if c == "|" and not escaped:
            cells.append(current)
            current = ""
        else:
            current += c
        escaped = c == "\\" and not escaped
    return cells + [current]


# --- CSVs people open in spreadsheets -------------------------------------------------------------------------

FORMULA_LIKE = ["=HYPERLINK(\"http://evil\",\"click\")", "+1+1", "@SUM(A1)", "-A1", "=1+1\n=2", "+1.mp4"]


def test_formula_like_cells_are_named_but_kept():
    assert [metadata.formula_like(v) for v in FORMULA_LIKE + ["-5", "+7", "1e3", "Hello", ""]] == \
        [True] * len(FORMULA_LIKE) + [False] * 5


def test_a_splits_csv_with_formula_like_groups_reads_back_as_the_same_pins():
    assignment = splits.assign([splits.Clip(f"{g}.mp4", g, f"r{i}") for i, g in enumerate(FORMULA_LIKE)], 0,
                               (0.4, 0.3, 0.3))
    columns, rows = splits.splits_csv(assignment)
    text = run_reports.csv_text(columns, rows)
    pins = splits.read_pins(text, ["category"])
    assert pins == {g: assignment.split[f"{g}.mp4"] for g in FORMULA_LIKE}


# --- the job: the same reasons as the launcher, and outputs that keep their shape -----------------------------

HOSTILE_ROWS = [
    # video_file, source clip (None: missing), sentence_id, sentence, category, signer
    ("+1.mp4", "SOUP.mp4", "1", '=HYPERLINK("http://evil","click")', "a|b\n<script>x</script>", "A"),
    (FORGED + ".mp4", "test_video.mp4", "2", "@SUM(1)", "+1+1", "B"),
    ("blank_signer.mp4", "sample_video.mp4", "3", "Hello", "=cmd|' /C calc'!A0", ""),
    ("same_id_other_text.mp4", None, "1", "Another text", "c", "A"),
    ("leading_zeros.mp4", None, "02", "@SUM(1)", "c", "A"),
    ("huge_id.mp4", None, "99999999999999999999999", "x", "c", "A"),
    ("full_width.mp4", None, "７", "x", "c", "A"),
    ("gone.mp4", None, "4", "Gone", "c", "A"),
]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("hostile")
    videos = root / "videos"
    videos.mkdir()
    for name, source, *_ in HOSTILE_ROWS:
        if source:
            (videos / name).parent.mkdir(parents=True, exist_ok=True)  # the forged line's "[9/9]" is a folder
            shutil.copy(sign_clips / source, videos / name)
    rows = [dict(video_file=v, sentence_id=i, sentence=s, category=c, signer=g) for v, _, i, s, c, g in HOSTILE_ROWS]
    metadata_csv = write_metadata(root / "m.csv", rows, ["signer"])
    text = metadata_csv.read_text(encoding="utf-8")
    (root / "m.csv").write_text(text + 'open_quote.mp4,9,"never closed,c,A\n', encoding="utf-8")
    out = root / "out"
    said = _Said()
    progress.LOG.addHandler(said)
    try:
        code = run_job.main([f"--metadata_csv={metadata_csv}", f"--video_dir={videos}", f"--output_dir={out}",
                             *BASE, "--max_missing_fraction=1", "--split_ratios=1,0,0", "--heldout_by=signer",
                             "--heldout_size=1"])
    finally:
        progress.LOG.removeHandler(said)
    assert code == 0
    return metadata_csv, out, said.messages


class _Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_the_job_gives_every_row_the_reason_the_launchers_checks_give(hostile_run):
    metadata_csv, out, _ = hostile_run
    _, launcher = metadata.read(str(metadata_csv))
    job = {}
    for name in ("failed_videos.csv", "missing_videos.csv", "processed_metadata.csv", "low_quality_videos.csv"):
        with open(out / "proc" / name, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                job.setdefault(row["video_file"], []).append((name, row.get("error", "")))
    assert sum(len(found) for found in job.values()) == len(launcher) == len(HOSTILE_ROWS) + 1
    refused = [r for r in launcher if r.error]
    assert len(refused) == 5  # same id other text, leading zeros, huge id, full width, open quote
    for row in refused:
        assert job[row.video_file] == [("failed_videos.csv", row.error)]
    assert job["gone.mp4"][0][0] == "missing_videos.csv"


def test_formula_like_values_reach_the_reports_byte_for_byte_and_read_back(hostile_run):
    metadata_csv, out, said = hostile_run
    with open(out / "proc" / "processed_metadata.csv", newline="", encoding="utf-8") as handle:
        saved = {row["video_file"]: row for row in csv.DictReader(handle)}
    for name, _, sentence_id, sentence, category, signer in HOSTILE_ROWS[:3]:
        assert (saved[name]["sentence"], saved[name]["category"], saved[name]["signer"]) == (sentence, category,
                                                                                           signer)
    back = {r.video_file: r.row for r in run_reports.read_run(str(out)).results}
    assert back["+1.mp4"].sentence == HOSTILE_ROWS[0][3] and back["+1.mp4"].category == HOSTILE_ROWS[0][4]
    formula_like = sum(metadata.formula_like(v) for row in HOSTILE_ROWS for v in (row[0], *row[2:]))
    assert any(m.startswith(f"{formula_like} value(s) of the metadata file") and "like a spreadsheet formula" in m
               for m in said), said


def test_the_run_log_has_one_line_per_row_that_needs_a_line(hostile_run):
    _, out, _ = hostile_run
    log = (out / "proc" / "run_log.txt").read_text(encoding="utf-8")
    assert "\x1b" not in log and "\u202e" not in log
    lines = log.splitlines()
    assert all(line.startswith("[") for line in lines)
    assert len(lines) == 4  # three decoded, one missing
    assert any("evil\\n[9/9] success" in line for line in lines)


def test_the_card_keeps_its_tables_and_says_what_blank_values_do(hostile_run):
    _, out, said = hostile_run
    [release] = [p for p in (out / "releases").iterdir() if p.is_dir()]
    card = (release / "README.md").read_text(encoding="utf-8")
    assert "<script>" not in card and "\x1b" not in card
    for table in _tables(card):
        widths = {len(_cells(row)) for row in table}
        assert len(widths) == 1, table
    category_rows = [row for row in next(t for t in _tables(card) if t[0].startswith("| category |"))[2:]]
    assert len(category_rows) == 2  # the two categories of the clips released: one row each
    assert "**Blank values.** 1 clip(s) have a blank signer (--heldout\\_by): whose they are is unknown" in card
    assert any(m.startswith("Blank values: 1 metadata row(s) have a blank signer") for m in said), said
    for name in ("manifest.json", "feature_schema.json", "croissant.json"):
        strict_json((release / name).read_text(encoding="utf-8"))
    for name in ("run_summary.json", "feature_schema.json"):
        strict_json((out / "proc" / name).read_text(encoding="utf-8"))


def _tables(markdown: str):
    """Each Markdown table of a text as its list of rows (lines starting with |)."""
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_a_workbooks_formulas_get_the_same_reasons_in_the_job_as_at_the_launcher(tmp_path):
    """A sentence table (one line per sentence) whose videos are gone: no video is decoded."""
    path = _workbook(tmp_path / "table.xlsx", [["sentence_id", "sentence", "category"], [1, "=A1&\"!\"", "c"],
                                              ["=2", "Two", "c"], [3, "Three", "c"]])
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("1A.mp4", "2A.mp4"):
        (videos / name).write_bytes(b"")
    launcher = sentence_table.metadata_rows(str(path), ["1A.mp4", "2A.mp4"], None,
                                            r"(?P<sentence_id>\d+)(?P<take>[A-Z])").rows
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={path}", f"--video_dir={videos}", f"--output_dir={out}", *BASE,
                         "--max_missing_fraction=1", "--release=false"]) == 0
    with open(out / "proc" / "failed_videos.csv", newline="", encoding="utf-8") as handle:
        failed = {(row["line"], row["video_file"]): row["error"] for row in csv.DictReader(handle)}
    expected = {("" if r.line is None else str(r.line), r.video_file): r.error for r in launcher
                if r.error and not r.missing}
    assert failed == expected
    assert any(e.startswith("B2 (sentence) holds the formula =A1&\"!\"") for e in failed.values())
    assert any(e.startswith("A3 (sentence_id) holds the formula =2") for e in failed.values())
