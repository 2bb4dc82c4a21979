"""Bad input at the seams: what a user types never corrupts, empties or half-writes the outputs.

Each case of docs/bad-input.md's "Hardening" table, on real clips, local folders and the
GCS emulator. Runs whose log is checked start `python -m pipeline.run` as a user does and
read its stderr (the native-log filter works on the process's file descriptor 2).
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from pipeline import preflight
from pipeline import run as run_job
from tests.conftest import REPO, ffmpeg, write_metadata
from transforms.common import storage
from transforms.store import lease

OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=2"]
REPORTS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv")
PROGRESS = re.compile(r"\[(\d+)/(\d+)\]")
FFMPEG_LINE = re.compile(r"\[[^\]\n]* @ (0x)?[0-9a-fA-F]+\]|moov atom|Invalid NAL|error while decoding")

NFC_NAME = unicodedata.normalize("NFC", "Ɔkɔm é.mp4")
NFD_NAME = unicodedata.normalize("NFD", "Ɔkɔm é.mp4")
CAFE_NFC = unicodedata.normalize("NFC", "café.mp4")
CAFE_NFD = unicodedata.normalize("NFD", "café.mp4")
# video_file in the metadata → (the file under --video_dir, or None, sentence)
ROWS = {
    "SOUP.mp4": ("SOUP.mp4", "Hello"),
    NFC_NAME: (NFD_NAME, "Food is ready"),           # stored decomposed, as macOS stores names
    CAFE_NFD: (CAFE_NFC, "Coffee"),                  # and the other way round
    "clip.mp4": ("Clip.MP4", "Another letter case"),
    "trailing.mp4": ("trailing.mp4 ", "A trailing space in the file's name"),
    "linked/inside.mp4": ("linked/inside.mp4", "Inside a symlinked folder"),
    "blank_a.mp4": ("blank_a.mp4", ""),
    "blank_b.mp4": ("blank_b.mp4", "   "),
    "blank_c.mp4": ("blank_c.mp4", "\u200b\u00a0\t"),
}


def start(args, env=None, new_session=True):
    """`python -m pipeline.run ARGS` as a user starts it; stderr piped, stdout kept."""
    return subprocess.Popen([sys.executable, "-m", "pipeline.run", *map(str, args)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=new_session,
                            env={**os.environ, **(env or {})})


def run_cli(args, env=None, timeout=600):
    job = start(args, env)
    out, err = job.communicate(timeout=timeout)
    return job.returncode, out, err


def statuses(read_text):
    """video_file → (report, error) over the four reports; read_text(name) gives a report's text."""
    import csv
    import io

    found = {}
    for report in REPORTS:
        for row in csv.DictReader(io.StringIO(read_text(report))):
            found[row["video_file"]] = (report, row.get("error", ""))
    return found


def local_reports(out: Path):
    return lambda name: (out / "proc" / name).read_text(encoding="utf-8")


def bucket_reports(out: str):
    return lambda name: storage.read_bytes(f"{out}/proc/{name}").decode("utf-8")


def snapshot(folder: Path):
    """Every file and folder under `folder`: bytes' sha256 and mtime_ns (folders: mtime_ns)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        found[path.relative_to(folder).as_posix()] = (digest, stat.st_mtime_ns)
    found["."] = ("folder", folder.stat().st_mtime_ns)
    return found


def bucket_snapshot(folder: str):
    """Every object under `folder`: its generation and CRC32C (a rewrite changes the generation)."""
    return {name: (info.version, info.checksum) for name, info in storage.list_objects(folder).items()}


# --- one dataset of odd names, odd sentences and a symlinked folder --------------------------------

@pytest.fixture(scope="module")
def names(tmp_path_factory, sign_clips):
    """(root, metadata, videos): the ROWS dataset, with `linked` a symlink to a folder outside --video_dir
    that links back to it (a loop)."""
    root = tmp_path_factory.mktemp("names")
    videos, elsewhere = root / "videos", root / "elsewhere"
    videos.mkdir()
    elsewhere.mkdir()
    (videos / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "back").symlink_to(videos, target_is_directory=True)
    for stored, _ in ROWS.values():
        target = elsewhere / stored.split("/", 1)[1] if stored.startswith("linked/") else videos / stored
        shutil.copy(sign_clips / "SOUP.mp4", target)
    metadata = write_metadata(root / "metadata.csv", [
        dict(video_file=name, sentence_id=str(i), sentence=sentence, category="c")
        for i, (name, (_, sentence)) in enumerate(ROWS.items(), start=1)])
    return root, metadata, videos


@pytest.fixture(scope="module")
def local_names_run(names):
    root, metadata, videos = names
    out = root / "out"
    code, _, err = run_cli([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                            *OPTIONS, "--max_missing_fraction=1"])
    assert code == 0, err
    return out, err


@pytest.fixture(scope="module")
def bucket_names_run(names, gcs_emulator):
    """The same dataset in a bucket (every file the local listing sees, under the same name), run with no
    credentials at all: the storage client talks to the emulator anonymously."""
    root, _, videos = names
    base = f"{gcs_emulator}/names"
    for name in storage.list_objects(str(videos)):
        storage.write_bytes(f"{base}/videos/{name}", (videos / name).read_bytes())
    storage.write_bytes(f"{base}/metadata.csv", (root / "metadata.csv").read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    job = subprocess.Popen([sys.executable, "-m", "pipeline.run", f"--metadata_csv={base}/metadata.csv",
                            f"--video_dir={base}/videos", f"--output_dir={base}/out", *OPTIONS,
                            "--max_missing_fraction=1"], cwd=REPO, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    _, err = job.communicate(timeout=600)
    assert job.returncode == 0, err
    return f"{base}/out", err


def test_the_listing_follows_a_symlinked_folder_once_and_not_its_loop(names):
    _, _, videos = names
    listed = storage.list_objects(str(videos))
    assert "linked/inside.mp4" in listed
    assert not any("back/" in name for name in listed)


def test_a_name_in_another_unicode_normalization_is_its_file(local_names_run):
    out, err = local_names_run
    found = statuses(local_reports(out))
    assert found[NFD_NAME][0] == "processed_metadata.csv" and found[CAFE_NFC][0] == "processed_metadata.csv"
    assert (out / "features" / "pose_data" / f"{NFD_NAME[:-4]}.npy").is_file()
    assert "2 video_file name(s)" in err and "only in Unicode normalization" in err


def test_a_file_in_a_symlinked_folder_is_found_and_processed(local_names_run):
    out, _ = local_names_run
    assert statuses(local_reports(out))["linked/inside.mp4"][0] == "processed_metadata.csv"


def test_a_near_miss_is_named_in_the_missing_reason(local_names_run):
    found = statuses(local_reports(local_names_run[0]))
    assert found["clip.mp4"] == ("missing_videos.csv", "File not found; did you mean 'Clip.MP4' (letter case differs)?")
    assert found["trailing.mp4"] == ("missing_videos.csv", "File not found; did you mean 'trailing.mp4 ' "
                                                           "(spaces at the start or end of a name differ)?")


def test_an_empty_or_blank_sentence_fails_and_is_never_released(local_names_run):
    import pandas as pd

    out, _ = local_names_run
    found = statuses(local_reports(out))
    for name in ("blank_a.mp4", "blank_b.mp4", "blank_c.mp4"):
        report, error = found[name]
        assert report == "failed_videos.csv" and error.startswith("sentence is empty") and "fill it in" in error
    assert not (out / "features" / "pose_data" / "blank_a.npy").exists()
    latest = json.loads((out / "releases" / "latest.json").read_text())
    released = pd.read_parquet(out / "releases" / latest["path"] / "data")
    assert len(released) == 4 and all(s.strip() for s in released["sentence"])


def test_every_row_is_in_one_report(local_names_run):
    found = statuses(local_reports(local_names_run[0]))
    assert len(found) == len(ROWS)


def test_a_bucket_run_reports_what_the_local_run_does(local_names_run, bucket_names_run):
    out, err = bucket_names_run
    assert statuses(bucket_reports(out)) == statuses(local_reports(local_names_run[0]))
    assert "only in Unicode normalization" in err


def test_a_bucket_run_without_credentials_logs_no_retry_or_traceback(bucket_names_run):
    """The release reads through the one storage layer: no Beam FileSystems, no google.auth retries."""
    _, err = bucket_names_run
    for word in ("Traceback", "Retrying", "redential", "DefaultCredentialsError"):
        assert word not in err, err


def test_latest_json_is_relative_to_its_folder_so_a_copied_output_folder_points_into_the_copy(
        local_names_run, tmp_path):
    out, _ = local_names_run
    copy = tmp_path / "copied"
    shutil.copytree(out, copy, symlinks=True)
    text = (copy / "releases" / "latest.json").read_text()
    latest = json.loads(text)
    assert str(out) not in text and not Path(latest["path"]).is_absolute()
    assert latest["path"] == latest["release_id"]
    assert (copy / "releases" / latest["path"] / "manifest.json").is_file()


# --- metadata columns named like the pipeline's -----------------------------------------------------

@pytest.mark.parametrize("columns", [("num_frames",), ("feature_path",), ("quality_flag",), ("dominant_hand",),
                                     ("split",), ("error", "kept"), ("text_variations", "mirrored")])
def test_a_column_named_like_a_report_column_stops_before_any_work(columns, tmp_path, sign_clips, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(sign_clips / "SOUP.mp4", videos / "SOUP.mp4")
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="SOUP.mp4", sentence_id="1", sentence="Hi",
                                                        category="c", **{c: "7" for c in columns})], columns)
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                         *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert f"has the column(s) {', '.join(columns)}" in err
    assert all(f"{c} → metadata_{c}" in err for c in columns)
    assert not out.exists()


def test_columns_named_like_report_columns_stop_a_bucket_run_before_any_write(gcs_emulator, sign_clips, tmp_path,
                                                                               capsys):
    base = f"{gcs_emulator}/clash"
    storage.write_bytes(f"{base}/videos/SOUP.mp4", (sign_clips / "SOUP.mp4").read_bytes())
    local = write_metadata(tmp_path / "m.csv", [dict(video_file="SOUP.mp4", sentence_id="1", sentence="Hi",
                                                     category="c", feature_path="x", num_frames="3")],
                           ["feature_path", "num_frames"])
    storage.write_bytes(f"{base}/m.csv", local.read_bytes())
    assert run_job.main([f"--metadata_csv={base}/m.csv", f"--video_dir={base}/videos", f"--output_dir={base}/out",
                         *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert "feature_path, num_frames" in err and "metadata_num_frames" in err
    assert storage.list_objects(f"{base}/out") == {}


# --- a metadata file with no rows ------------------------------------------------------------------

EMPTY_METADATA = {
    "header only": "video_file,sentence_id,sentence,category\n",
    "blank lines": "\ufeffvideo_file,sentence_id,sentence,category\r\n\r\n,,,\r\n\r\n",
    "sentence table": "sentence_id,sentence,category\n\n",
}


@pytest.mark.parametrize("kind", EMPTY_METADATA)
def test_metadata_with_no_rows_stops_and_leaves_earlier_results_as_they_were(kind, local_names_run, names,
                                                                              tmp_path, capsys):
    _, _, videos = names
    out = tmp_path / "out"
    shutil.copytree(local_names_run[0], out, symlinks=True)
    metadata = tmp_path / "empty.csv"
    metadata.write_text(EMPTY_METADATA[kind], encoding="utf-8")
    before = snapshot(out)
    time.sleep(0.01)  # an mtime written now would differ
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                         *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert f"The metadata file {metadata} has no rows" in err
    assert f"--output_dir {out} holds 4 earlier result(s)" in err and "nothing there was changed" in err
    assert snapshot(out) == before


def test_metadata_with_no_rows_runs_on_a_new_folder_saying_why_the_reports_are_empty(names, tmp_path):
    """The reports themselves: tests/test_pipeline.py::test_empty_metadata_still_writes_every_report_with_its_header."""
    _, _, videos = names
    metadata = tmp_path / "empty.csv"
    metadata.write_text(EMPTY_METADATA["header only"])
    out = tmp_path / "new"
    code, _, err = run_cli([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS])
    assert code == 0, err
    assert f"The metadata file {metadata} has no rows" in err and "every report will be empty" in err
    assert (out / "proc" / "run_summary.json").is_file()


def test_a_sentence_table_with_no_rows_stops_on_a_new_folder_too(names, tmp_path, capsys):
    _, _, videos = names
    metadata = tmp_path / "table.csv"
    metadata.write_text(EMPTY_METADATA["sentence table"])
    out = tmp_path / "new"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                         *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert f"The metadata file {metadata} has no rows" in err and "earlier" not in err
    assert not out.exists()


def test_metadata_with_no_rows_leaves_a_bucket_folder_as_it_was(bucket_names_run, names, capsys):
    out = bucket_names_run[0]
    _, _, videos = names
    empty = out.rsplit("/", 1)[0] + "/empty.csv"
    storage.write_bytes(empty, EMPTY_METADATA["header only"].encode())
    before = bucket_snapshot(out)
    assert run_job.main([f"--metadata_csv={empty}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert f"--output_dir {out} holds 4 earlier result(s)" in err and "report file(s) under proc/" in err
    assert bucket_snapshot(out) == before


# --- a run that fails while writing its reports --------------------------------------------------

@pytest.mark.parametrize("blocked", ["report.html", "global_stats.npz"])
def test_a_run_failing_while_writing_reports_leaves_no_summary_and_the_next_run_finishes(
        blocked, local_names_run, names, tmp_path, capsys):
    _, metadata, videos = names
    out = tmp_path / "out"
    shutil.copytree(local_names_run[0], out, symlinks=True)
    # A folder stands where the file goes: the write fails from outside, as a full or read-only disk would.
    (out / "proc" / blocked).unlink()
    (out / "proc" / blocked).mkdir()
    args = [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS,
            "--max_missing_fraction=1"]
    assert run_job.main(args) == 1
    err = capsys.readouterr().err
    assert f"The outputs under {out} are incomplete: no run_summary.json was written" in err
    assert "Run the same command again to finish the rest" in err
    assert not (out / "proc" / "run_summary.json").exists()
    assert not Path(lease.lease_path(str(out))).exists()

    (out / "proc" / blocked).rmdir()
    assert run_job.main(args) == 0
    summary = json.loads((out / "proc" / "run_summary.json").read_text())
    assert summary["rows"] == len(ROWS) and summary["videos_decoded"] == 0
    assert (out / "proc" / blocked).is_file()


# --- Ctrl-C -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def six_clips(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("six")
    videos = root / "videos"
    videos.mkdir()
    names_ = [f"soup_{c}.mp4" for c in "abcdef"]
    for name in names_:
        shutil.copy(sign_clips / "SOUP.mp4", videos / name)
    metadata = write_metadata(root / "m.csv", [dict(video_file=n, sentence_id=str(i), sentence=f"S{i}", category="c")
                                               for i, n in enumerate(names_)])
    return root, [f"--metadata_csv={metadata}", f"--video_dir={videos}", *OPTIONS, "--release=false"]


def stderr_until(job, condition, timeout=300):
    """The stderr lines read until `condition(lines)` holds."""
    lines = []
    deadline = time.time() + timeout
    for line in job.stderr:
        lines.append(line)
        if condition(lines):
            return lines
        if time.time() > deadline:
            break
    job.kill()
    pytest.fail("the moment never came:\n" + "".join(lines[-20:]))


@pytest.mark.parametrize("to", ["process", "process group"])
def test_ctrl_c_stops_with_130_one_line_and_no_traceback_and_the_next_run_finishes(to, six_clips, tmp_path):
    """`to`: SIGINT to the launcher alone, or to its process group, as Ctrl-C in a terminal sends it."""
    _, args = six_clips
    out = tmp_path / "out"
    job = start([*args, f"--output_dir={out}", "--verbose"])  # each finished video's line, as it comes
    lines = stderr_until(job, lambda seen: any(PROGRESS.search(line) for line in seen))
    (os.killpg if to == "process group" else os.kill)(job.pid, signal.SIGINT)
    _, rest = job.communicate(timeout=120)
    err = "".join(lines) + rest
    assert job.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    said = [line for line in err.splitlines() if line.startswith("Interrupted (Ctrl-C)")]
    assert len(said) == 1 and f"every output it published under {out}" in said[0]
    assert "Run the same command again to finish the work" in said[0]
    assert not Path(lease.lease_path(str(out))).exists()
    assert not (out / "proc" / "run_summary.json").exists()
    kept = {p.stem for p in (out / "features" / "pose_data").glob("*.npy")}
    assert kept

    summary = run_job.run([*args, f"--output_dir={out}"])
    assert summary["counts"]["success"] == 6 and summary["videos_reused"] == len(kept)


# --- a full disk ---------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 1.3 MB tmpfs: the outputs of two of the SOUP clips (about 480 KiB each) fit, the third does not."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1300k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_one_line_naming_the_folder_and_the_next_run_finishes(six_clips, small_disk):
    _, args = six_clips
    out = small_disk / "out"
    code, _, err = run_cli([*args, f"--output_dir={out}"])
    assert code == 1, err
    assert "Traceback" not in err and "Errno 28" not in err
    [said] = [line for line in err.splitlines() if line.startswith("error:")]
    assert said.startswith(f"error: no space left on the disk holding {out} (")
    assert re.search(r"The \d video\(s\) still to save need about [\d.]+ MiB", said)
    assert "run the same command again" in said
    assert not (out / "proc" / "run_summary.json").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    kept = len(list((out / "features" / "pose_data").glob("*.npy")))

    subprocess.run(["mount", "-o", "remount,size=20m", str(small_disk)], check=True)
    summary = run_job.run([*args, f"--output_dir={out}"])
    assert summary["counts"]["success"] == 6 and summary["videos_reused"] == kept


# --- worker counts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [["--direct_num_workers=1000"],
                                   ["--direct_num_workers=500", "--direct_running_mode=multi_processing"]])
def test_a_worker_count_beyond_the_machine_stops_before_any_work(extra, names, tmp_path, capsys):
    _, metadata, videos = names
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                         "--model_complexity=1", *extra]) == 2
    err = capsys.readouterr().err
    limit, _ = preflight.most_at_once("--direct_running_mode=multi_processing" in extra)
    assert "more than this machine can hold" in err and f"at most {limit} fit here" in err
    assert "Use --direct_num_workers=0" in err
    assert not out.exists()


def test_the_default_worker_count_fits_the_machine():
    from apache_beam.options.pipeline_options import PipelineOptions

    limit, _ = preflight.most_at_once(False)
    assert 1 <= preflight.extraction_threads(PipelineOptions([]), []) <= limit


# --- FFmpeg's lines --------------------------------------------------------------------------------

def test_ffmpegs_lines_about_broken_videos_never_reach_the_log(sign_clips, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    # The index (moov) at the end, then cut in half: FFmpeg says "moov atom not found".
    ffmpeg("-i", sign_clips / "SOUP.mp4", "-c", "copy", "-movflags", "-faststart", tmp_path / "tail_index.mp4")
    data = (tmp_path / "tail_index.mp4").read_bytes()
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    # Bytes of the frames overwritten: FFmpeg complains about every damaged frame.
    data = bytearray((sign_clips / "test_video.mp4").read_bytes())
    for i in range(data.find(b"mdat") + 2000, len(data), 997):
        data[i] = (i * 7919) % 256
    (videos / "damaged.mp4").write_bytes(bytes(data))
    shutil.copy(sign_clips / "SOUP.mp4", videos / "SOUP.mp4")
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file=n, sentence_id=str(i), sentence="S", category="c")
                                                   for i, n in enumerate(["cut.mp4", "damaged.mp4", "SOUP.mp4"])])
    out = tmp_path / "out"
    code, stdout, err = run_cli([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                                 *OPTIONS, "--release=false"])
    assert code == 0, err
    assert not FFMPEG_LINE.search(err), err
    log = (out / "proc" / "run_log.txt").read_text(encoding="utf-8")
    assert not FFMPEG_LINE.search(log), log
    assert sum(1 for line in log.splitlines() if PROGRESS.search(line)) == 3
    assert re.search(r"\[\d/3\] failed .* cut\.mp4 \(OpenCV could not open the file as a video", log)
    assert "failed" in stdout and "success" in stdout
    found = statuses(local_reports(out))
    assert found["cut.mp4"][0] == "failed_videos.csv" and found["SOUP.mp4"][0] == "processed_metadata.csv"
