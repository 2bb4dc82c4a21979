"""SignTalk-GH as published: a sentence table (Metadata.xlsx) beside videos named <Sentence ID><Letter>.mp4.

One dataset laid out as downloaded (nested folders, names that break the pattern, sentences
with no video, videos of no sentence, files that are not videos) is run through the real
job once from a local folder and once from a GCS emulator bucket, each run shared by the
tests of its part; then fast checks of every configuration error, which stop before any
video is read.
"""
import collections
import csv
import json
import io
import random
import shutil
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import preflight
from pipeline import run as run_job
from pipeline.options import GhslOptions
from tests.conftest import write_metadata
from transforms.reports import report_data
from transforms.reports.run_reports import read_run
from transforms.store import metadata, sentence_table
from transforms.common import storage
from transforms.store.results import FAILED, MISSING

PUBLISHED_HEADER = ["Sentence ID", "Sentence Text", "Category"]
# Sheet rows after the header, in this order (row 2 first); ids not sorted, to show table order is kept.
SENTENCES = [
    (1000, "I have a headache.", "General hospital interactions"),
    (3001, "Where is the pharmacy?", "Directions"),
    (2315, "Take this medicine twice a day.", "Medication"),
    (1200, "Please sit down.", "General hospital interactions"),
    (3002, "My child has a fever.", "Paediatrics"),
]
# Under SignTalk-GH/Videos: the videos that pair with a sentence, and the real clip each is a copy of.
PAIRED = {
    "part1/1000A.mp4": "SOUP.mp4",
    "part2/1000B.mp4": "test_video.mp4",
    "part2/deep/2315D.mp4": "sample_video.mp4",  # 9 frames: low quality
    "1200C.MP4": "FOOTBALL.mp4",                 # the extension in capitals
}
NOT_MATCHING = {"part1/1000A (copy).mp4": "SOUP.mp4", "part1/1000.mp4": "SOUP.mp4", "extras/intro.mov": "SOUP.mp4"}
NO_SENTENCE = {"part2/4444A.mp4": "SOUP.mp4"}
NOT_VIDEOS = ("README.txt", "part1/1000A.json", "part1/.DS_Store", "part2/1000B.mp4.part")
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}

OPTIONS = ["--model_complexity=1", "--direct_num_workers=1", "--min_frames=20"]
REPORTS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv")
DEFAULT_PATTERN = PipelineOptions([]).view_as(GhslOptions).video_name_pattern


def workbook(path: Path, rows):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    book.save(path)
    return path


def sheet_row(sentence_id: int) -> int:
    return 2 + [s[0] for s in SENTENCES].index(sentence_id)


def sentence_of(video_file: str) -> int:
    return int(Path(video_file).stem[:-1])


def listed_videos(folder: Path):
    """Every video file under folder, found here without the pipeline's code."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def report_rows(read_text):
    return {name: list(csv.DictReader(io.StringIO(read_text(name)))) for name in REPORTS}


def relative_feature_paths(rows, out: str):
    return [{**r, "feature_path": r["feature_path"][len(out):].lstrip("/")} if "feature_path" in r else r
            for r in rows]


@pytest.fixture(scope="module")
def layout(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("published") / "SignTalk-GH"
    videos = root / "Videos"
    for relative, clip in {**PAIRED, **NOT_MATCHING, **NO_SENTENCE}.items():
        (videos / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sign_clips / clip, videos / relative)
    for relative in NOT_VIDEOS:
        (videos / relative).write_text("not a video")
    workbook(root / "Metadata.xlsx", [PUBLISHED_HEADER, *SENTENCES])
    return root


def run_snapshot(metadata_path: str, video_dir: str, out: str, *extra):
    """Runs the job and keeps its report bytes, before any later run rewrites them."""
    summary = run_job.run([f"--metadata_csv={metadata_path}", f"--video_dir={video_dir}", f"--output_dir={out}",
                           *OPTIONS, *extra])
    texts = {name: storage.read_bytes(storage.join(out, "proc", name)).decode("utf-8")
             for name in REPORTS + ("orphaned_outputs.csv",)}
    return summary, texts


def npy_files(out: str):
    root = storage.join(out, "features", "pose_data")
    return {p[len(root):].lstrip("/"): storage.read_bytes(p) for p in storage.list_files(root)}


@pytest.fixture(scope="module")
def local_run(layout, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("published_out"))
    summary, texts = run_snapshot(str(layout / "Metadata.xlsx"), str(layout / "Videos"), out)
    return out, summary, texts


@pytest.fixture(scope="module")
def local_rerun(local_run, layout):
    out, _, _ = local_run
    return run_snapshot(str(layout / "Metadata.xlsx"), str(layout / "Videos"), out)


@pytest.fixture(scope="module")
def per_video_run(layout, tmp_path_factory):
    """The paired videos from a per-video CSV, as the pipeline took them before sentence tables."""
    root = tmp_path_factory.mktemp("per_video")
    text = {s[0]: s for s in SENTENCES}
    ordered = sorted(PAIRED, key=lambda v: (sheet_row(sentence_of(v)), v))
    csv_path = write_metadata(root / "m.csv", [
        dict(video_file=v, sentence_id=str(sentence_of(v)), sentence=text[sentence_of(v)][1],
             category=text[sentence_of(v)][2], take=Path(v).stem[-1]) for v in ordered], extra_columns=("take",))
    out = str(root / "out")
    summary, texts = run_snapshot(str(csv_path), str(layout / "Videos"), out)
    return out, summary, texts


# --- every video and every sentence, in exactly one report ---------------------------

def test_the_listing_is_what_the_dataset_holds(layout):
    """Guards the counts below: the folder holds the videos this module means it to."""
    assert listed_videos(layout / "Videos") == sorted({**PAIRED, **NOT_MATCHING, **NO_SENTENCE})


def test_every_video_is_in_exactly_one_report(local_run, layout):
    _, _, texts = local_run
    rows = report_rows(texts.__getitem__)
    seen = collections.Counter(r["video_file"] for name in REPORTS for r in rows[name] if r["video_file"])
    videos = listed_videos(layout / "Videos")
    assert sorted(seen) == videos
    assert set(seen.values()) == {1}
    for other in NOT_VIDEOS:
        assert other not in seen


def test_every_sentence_is_accounted_for_once(local_run):
    _, _, texts = local_run
    rows = report_rows(texts.__getitem__)
    with_videos = {sentence_of(v) for v in PAIRED}
    for sentence_id, sentence, category in SENTENCES:
        own = [r for name in REPORTS for r in rows[name] if r["sentence_id"] == str(sentence_id)]
        missing = [r for r in rows["missing_videos.csv"] if r["sentence_id"] == str(sentence_id)]
        if sentence_id in with_videos:
            assert not missing
            assert sorted(r["video_file"] for r in own) == sorted(v for v in PAIRED if sentence_of(v) == sentence_id)
        else:
            assert len(own) == len(missing) == 1
        assert all((r["sentence"], r["category"]) == (sentence, category) for r in own)
    total = sum(len(rows[name]) for name in REPORTS)
    assert total == len({**PAIRED, **NOT_MATCHING, **NO_SENTENCE}) + len(SENTENCES) - len(with_videos)


def test_a_sentence_without_a_video_is_one_missing_row_at_its_line(local_run):
    _, summary, texts = local_run
    missing = report_rows(texts.__getitem__)["missing_videos.csv"]
    without = [s for s in SENTENCES if s[0] not in {sentence_of(v) for v in PAIRED}]
    assert [(r["video_file"], r["sentence_id"], r["sentence"], r["category"], r["line"]) for r in missing] == [
        ("", str(i), text, category, str(sheet_row(i))) for i, text, category in without]
    for row in missing:
        assert f"no video of sentence {row['sentence_id']}" in row["error"] and DEFAULT_PATTERN in row["error"]
    assert summary["counts"]["missing"] == len(without)


def test_a_name_that_breaks_the_pattern_fails_showing_the_pattern(local_run):
    _, _, texts = local_run
    failed = {r["video_file"]: r for r in report_rows(texts.__getitem__)["failed_videos.csv"]}
    for video in NOT_MATCHING:
        assert f"name {Path(video).stem!r} does not match" in failed[video]["error"]
        assert DEFAULT_PATTERN in failed[video]["error"]
        assert failed[video]["line"] == "" and failed[video]["sentence_id"] == ""


def test_a_video_of_a_sentence_the_table_lacks_fails_naming_the_id(local_run):
    _, _, texts = local_run
    failed = {r["video_file"]: r for r in report_rows(texts.__getitem__)["failed_videos.csv"]}
    for video in NO_SENTENCE:
        sentence_id = str(sentence_of(video))
        assert f"no line of the table has sentence {sentence_id}" in failed[video]["error"]
        assert (failed[video]["sentence_id"], failed[video]["line"]) == (sentence_id, "")


def test_paired_videos_are_reported_in_table_order_with_their_take(local_run):
    _, summary, texts = local_run
    rows = report_rows(texts.__getitem__)
    processed = rows["processed_metadata.csv"]
    assert texts["processed_metadata.csv"].splitlines()[0].endswith(",take")
    assert [r["video_file"] for r in processed] == sorted(
        (v for v in PAIRED if PAIRED[v] != "sample_video.mp4"), key=lambda v: (sheet_row(sentence_of(v)), v))
    assert all(r["take"] == Path(r["video_file"]).stem[-1] for r in processed)
    assert [r["video_file"] for r in rows["low_quality_videos.csv"]] == ["part2/deep/2315D.mp4"]
    assert summary["counts"]["success"] == len(processed) and summary["videos_decoded"] == len(PAIRED)


def test_failed_rows_off_the_table_come_after_its_rows_in_name_order(local_run):
    _, _, texts = local_run
    failed = report_rows(texts.__getitem__)["failed_videos.csv"]
    assert [r["video_file"] for r in failed] == sorted({**NOT_MATCHING, **NO_SENTENCE})


def test_the_dataset_report_reads_these_rows(local_run):
    out, summary, _ = local_run
    clips = report_data.report_clips(read_run(out).results, out)  # read back from the files, as pipeline.report does
    missing, failed = [c for c in clips if c.status == MISSING], [c for c in clips if c.status == FAILED]
    assert len(missing) == summary["counts"]["missing"] and {c.video_file for c in missing} == {""}
    assert sorted(c.video_file for c in failed) == sorted({**NOT_MATCHING, **NO_SENTENCE})
    assert all(c.reason for c in missing + failed)
    assert storage.exists(storage.join(out, "proc", "report.html"))


# --- the same features as from a per-video CSV; re-runs reuse everything --------------

def test_features_equal_those_of_the_same_videos_from_a_per_video_csv(local_run, per_video_run):
    (out, _, texts), (csv_out, _, csv_texts) = local_run, per_video_run
    ours, theirs = npy_files(out), npy_files(csv_out)
    assert sorted(ours) == sorted(f"{Path(v).with_suffix('').as_posix()}.npy" for v in PAIRED
                                  if PAIRED[v] != "sample_video.mp4")
    assert ours == theirs
    for name in ("processed_metadata.csv", "low_quality_videos.csv"):
        assert relative_feature_paths(report_rows(texts.__getitem__)[name], out) == \
            relative_feature_paths(report_rows(csv_texts.__getitem__)[name], csv_out), name


def test_a_second_run_decodes_nothing_and_writes_the_same_reports(local_run, local_rerun):
    (_, first, texts), (again, again_texts) = local_run, local_rerun
    assert again["videos_decoded"] == 0 and again["frames_decoded"] == 0
    assert again["videos_reused"] == first["videos_decoded"] == len(PAIRED)
    assert again_texts == texts


# --- the same dataset in a bucket -------------------------------------------------------

@pytest.fixture(scope="module")
def bucket_layout(layout, gcs_emulator):
    root = f"{gcs_emulator}/published/SignTalk-GH"
    for path in layout.rglob("*"):
        if path.is_file():
            storage.write_bytes(f"{root}/{path.relative_to(layout).as_posix()}", path.read_bytes())
    return root


@pytest.fixture(scope="module")
def bucket_runs(bucket_layout, gcs_emulator):
    out = f"{gcs_emulator}/published_out"
    first = run_snapshot(f"{bucket_layout}/Metadata.xlsx", f"{bucket_layout}/Videos", out)
    again = run_snapshot(f"{bucket_layout}/Metadata.xlsx", f"{bucket_layout}/Videos", out)
    return out, first, again


def test_a_bucket_run_reports_and_saves_what_a_local_run_does(bucket_runs, local_run):
    (out, (summary, texts), _), (local_out, local_summary, local_texts) = bucket_runs, local_run
    for name in REPORTS:
        assert relative_feature_paths(report_rows(texts.__getitem__)[name], out) == \
            relative_feature_paths(report_rows(local_texts.__getitem__)[name], local_out), name
    assert npy_files(out) == npy_files(local_out)
    assert summary["counts"] == local_summary["counts"]


def test_a_second_bucket_run_decodes_nothing(bucket_runs):
    _, (first, texts), (again, again_texts) = bucket_runs
    assert (again["videos_decoded"], again["videos_reused"]) == (0, first["videos_decoded"])
    assert again_texts == texts


def test_the_launcher_lists_the_bucket_once_and_reads_no_video(bucket_layout, gcs_emulator, gcs_proxy):
    options = PipelineOptions([f"--metadata_csv={bucket_layout}/Metadata.xlsx", f"--video_dir={bucket_layout}/Videos",
                               f"--output_dir={gcs_emulator}/published_preflight", *OPTIONS])
    gcs_proxy.take()
    checked = preflight.preflight(options)
    requests = list(gcs_proxy.requests)
    layout = bucket_layout[len(gcs_emulator) + 1:]
    assert [kind for kind, _, _ in requests].count("list") == 1
    assert [name for kind, _, name in requests if kind == "download"] == [f"{layout}/Metadata.xlsx"]
    assert not [name for _, _, name in requests if name.startswith(f"{layout}/Videos/")]
    assert checked.header[-1] == "take"
    assert sorted(r.video_file for r in checked.rows if r.video_file) == sorted({**PAIRED, **NOT_MATCHING,
                                                                                   **NO_SENTENCE})


# --- configuration errors: exit code 2 before any video is read ------------------------

@pytest.fixture
def small_layout(tmp_path):
    """A sentence table and two video names; the files are never read, so they need not be videos."""
    videos = tmp_path / "Videos"
    videos.mkdir()
    for name in ("1000A.mp4", "1001B.mp4"):
        (videos / name).write_bytes(b"never read")
    workbook(tmp_path / "Metadata.xlsx", [PUBLISHED_HEADER, (1000, "Hello.", "c"), (1001, "Bye.", "c")])
    return tmp_path


def stops(capsys, root: Path, *extra, metadata_file="Metadata.xlsx") -> str:
    out = root / "out"
    code = run_job.main([f"--metadata_csv={root / metadata_file}", f"--video_dir={root / 'Videos'}",
                         f"--output_dir={out}", "--model_complexity=1", *extra])
    assert code == 2
    assert not out.exists()
    return capsys.readouterr().err


def test_a_pattern_without_a_sentence_id_group_stops(small_layout, capsys):
    err = stops(capsys, small_layout, r"--video_name_pattern=(?P<id>\d+)(?P<take>[A-Z])")
    assert "has no group named sentence_id" in err and "(?P<sentence_id>" in err


def test_a_pattern_that_does_not_compile_stops(small_layout, capsys):
    err = stops(capsys, small_layout, r"--video_name_pattern=(?P<sentence_id>\d+")
    assert "is not a regular expression" in err and "missing )" in err


def test_a_mapping_naming_an_absent_column_stops_listing_the_columns(small_layout, capsys):
    err = stops(capsys, small_layout, '--metadata_columns=sentence_id="Sentence Number"')
    assert "'Sentence Number' (for sentence_id)" in err and "'Sentence ID', 'Sentence Text', 'Category'" in err


def test_a_malformed_mapping_stops(small_layout, capsys):
    err = stops(capsys, small_layout, "--metadata_columns=sentence_id")
    assert "--metadata_columns=sentence_id: expected =" in err


def test_a_pattern_that_matches_no_listed_video_stops(small_layout, capsys):
    err = stops(capsys, small_layout, r"--video_name_pattern=clip_(?P<sentence_id>\d+)")
    assert "read as a sentence table" in err and "matches --video_name_pattern=clip_(?P<sentence_id>\\d+)" in err
    assert "'1000A'" in err


def test_videos_none_of_whose_ids_is_in_the_table_stop(small_layout, capsys):
    for name in ("1000A.mp4", "1001B.mp4"):
        (small_layout / "Videos" / name).rename(small_layout / "Videos" / f"9{name}")
    err = stops(capsys, small_layout)
    assert "none of the sentence ids" in err and "91000 from 91000A.mp4" in err


def test_a_folder_with_no_video_files_stops(small_layout, capsys):
    for name in ("1000A.mp4", "1001B.mp4"):
        (small_layout / "Videos" / name).rename(small_layout / "Videos" / f"{name}.txt")
    err = stops(capsys, small_layout)
    assert "holds no video file" in err and "2 other file(s)" in err


def test_the_same_sentence_id_on_two_lines_stops_naming_both(small_layout, capsys):
    workbook(small_layout / "Metadata.xlsx", [PUBLISHED_HEADER, (1000, "Hello.", "c"), (1001, "Bye.", "c"),
                                              ("01000", "Hello again.", "c")])
    err = stops(capsys, small_layout)
    assert "same sentence_id on two lines: 1000 on lines 2 and 4" in err


def test_a_pattern_group_named_like_a_column_stops(small_layout, capsys):
    err = stops(capsys, small_layout, r"--video_name_pattern=(?P<sentence_id>\d+)(?P<category>[A-Z])")
    assert "group(s) category" in err and "Rename the group" in err


def test_a_file_fit_for_neither_layout_names_the_columns_of_both(small_layout, capsys):
    (small_layout / "m.csv").write_text("video;sentence_id;sentence;category\n")
    err = stops(capsys, small_layout, metadata_file="m.csv")
    assert "lacks the column(s) video_file, sentence_id, sentence, category" in err and "sentence table" in err


# --- pairing rules (no job) -----------------------------------------------------------------

def pair(table_csv: str, listing, pattern=DEFAULT_PATTERN):
    sheet = metadata.sheet_of_csv(table_csv, "metadata CSV t.csv")
    return sentence_table.pair(sheet, listing, sentence_table.compile_pattern(pattern))


def test_ids_are_normalised_on_both_sides():
    _, rows = pair("sentence_id,sentence,category\n 0042 ,Hi,c\n", ["0042A.mp4", "42B.mp4"])
    assert [(r.video_file, r.sentence_id, r.extra, r.error) for r in rows] == [
        ("0042A.mp4", "42", {"take": "A"}, None), ("42B.mp4", "42", {"take": "B"}, None)]


def test_only_video_extensions_are_paired_in_any_case():
    listing = ["1A.MKV", "1B.webm", "1C.m4v", "1D.Avi", "1E.mov", "1F.pose", "1G.txt", "1H.mp4.tmp"]
    _, rows = pair("sentence_id,sentence,category\n1,Hi,c\n", listing)
    assert [r.video_file for r in rows] == ["1A.MKV", "1B.webm", "1C.m4v", "1D.Avi", "1E.mov"]


def test_rows_do_not_depend_on_the_listings_order():
    table = "sentence_id,sentence,category\n2,B,c\n1,A,c\n3,C,c\n"
    listing = ["x/1B.mp4", "1A.mp4", "2A.mp4", "odd.mp4", "9Z.mp4", "y/1A.mp4"]
    first = pair(table, listing)
    shuffled = list(reversed(listing))
    random.Random(7).shuffle(shuffled)
    assert pair(table, shuffled) == first
    assert [(r.line, r.video_file) for r in first[1]] == [
        (2, "2A.mp4"), (3, "1A.mp4"), (3, "x/1B.mp4"), (3, "y/1A.mp4"), (4, ""), (None, "9Z.mp4"), (None, "odd.mp4")]


def test_a_line_that_cannot_be_used_fails_with_its_videos():
    table = "sentence_id,sentence,category\nabc,Hi,c\n5,Hello,c,stray\n6,Fine,c\n"
    _, rows = pair(table, ["5A.mp4", "6A.mp4"])
    by_line = [(r.line, r.video_file, r.error) for r in rows]
    assert by_line[0] == (2, "", "sentence_id 'abc' is not an integer")
    assert by_line[1][:2] == (3, "") and "4 fields but the header has 3" in by_line[1][2]
    assert by_line[2][:2] == (3, "5A.mp4") and "line 3 of the table, cannot be used" in by_line[2][2]
    assert by_line[3] == (4, "6A.mp4", None)


def test_videos_that_would_write_the_same_features_fail_as_duplicates():
    _, rows = pair("sentence_id,sentence,category\n1,Hi,c\n", ["1A.mov", "1A.mp4"])
    assert rows[0].error is None and "duplicate" in rows[1].error and "1A.npy" in rows[1].error


def test_every_other_named_group_becomes_a_column_after_the_tables_own():
    header, rows = pair("sentence_id,sentence,category,gloss\n7,Hi,c,HELLO\n", ["S2_7_t1.mp4"],
                        r"S(?P<signer>\d)_(?P<sentence_id>\d+)_t(?P<take>\d)")
    assert header == ["video_file", "sentence_id", "sentence", "category", "gloss", "signer", "take"]
    assert rows[0].extra == {"gloss": "HELLO", "signer": "2", "take": "1"}


def test_the_pattern_must_match_the_whole_name():
    _, rows = pair("sentence_id,sentence,category\n1,Hi,c\n2,Yo,c\n", ["1A.mp4", "2AB.mp4", "x2A.mp4"])
    assert [r.video_file for r in rows if not r.error] == ["1A.mp4"]
    assert {r.video_file for r in rows if r.error and not r.missing} == {"2AB.mp4", "x2A.mp4"}


def test_the_release_of_the_published_layout_has_a_croissant_json_that_mlcroissant_reads(local_run):
    """Its RAI facts count what the quality gates rejected, failed and found missing, as the run summary does."""
    from tests import croissant_check

    out, summary, _ = local_run
    folder = Path(out) / "releases" / summary["release"]["release_id"]
    document = croissant_check.check_release(folder)
    croissant_check.validate_command(folder)
    counts = summary["counts"]
    missing = document["rai:dataCollectionMissingData"]
    assert counts["low_quality"] and counts["failed"] and counts["missing"]
    assert (f"{counts['success']} clip(s) were saved" in missing and f"{counts['low_quality']} were rejected by the "
            f"quality rules, {counts['failed']} failed and {counts['missing']} had no video" in missing)
    # The published names carry a letter whose meaning is not documented: no column is known to name the signer.
    assert document["rai:dataBiases"][0].startswith("Signers: unknown.")
    assert "take" in " ".join(document["rai:personalSensitiveInformation"])


def test_the_published_takes_can_be_held_out_of_a_release(local_run, tmp_path, monkeypatch):
    """SignTalk-GH's letter per video (the take column the default --video_name_pattern reads) as the held-out axis."""
    import datasets

    from pipeline import release as release_entry
    from tests.croissant_check import check_release
    from transforms.release.splits import heldout_order

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = shutil.copytree(local_run[0], tmp_path / "out", ignore=shutil.ignore_patterns("releases"))
    assert release_entry.main([f"--output_dir={out}", "--heldout_by=take"]) == 0
    latest = json.loads((out / "releases" / "latest.json").read_text())
    ds = datasets.load_dataset(str(out / "releases" / latest["release_id"]))
    takes = {r["take"] for r in csv.DictReader(open(out / "proc" / "processed_metadata.csv", encoding="utf-8"))}
    document = check_release(out / "releases" / latest["release_id"])
    assert f"Signers: {len(takes)} (values of `take`, --heldout_by)" in document["rai:dataBiases"][0]
    held = set(heldout_order(takes, 0)[:max(1, round(0.2 * len(takes)))])
    for split in ds:
        values = {r["take"] for r in ds[split]}
        if split.startswith("test_unseen"):
            assert values <= held, split
        else:
            assert not values & held, split
