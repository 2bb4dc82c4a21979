"""Runs killed with SIGKILL (the whole process group, as a preempted launcher or a cancelled job dies).

The next run with the same arguments finishes, and its outputs equal a clean run's:
.npy bytes, CSV rows, statistics. A partial file is never taken for a finished one,
and the killed run's lease (a dead process on this host) does not block it.

The moment of a kill is chosen from outside: after a number of progress lines, or,
on gs:// outputs, when the GCS proxy (bench/gcs_proxy.py) sees the request that
writes a given file, which it holds until the job is dead.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from pipeline import run as run_job
from tests.conftest import REPO, write_metadata
from tests.test_incremental import assert_same_outputs
from transforms.common import storage
from transforms.store import lease

# The release has its own tests, a killed one among them (tests/test_release.py).
OPTIONS = ["--model_complexity=1", "--min_frames=20", "--direct_num_workers=2", "--direct_running_mode=multi_processing",
           "--release=false"]
PROGRESS = re.compile(r"\[(\d+)/(\d+)\]")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("killed")
    videos = root / "videos"
    videos.mkdir()
    for name in ("soup_a.mp4", "soup_b.mp4", "soup_c.mp4"):
        shutil.copy(sign_clips / "SOUP.mp4", videos / name)
    for name in ("FOOTBALL.mp4", "sample_video.mp4"):
        shutil.copy(sign_clips / name, videos / name)
    names = ["soup_a.mp4", "FOOTBALL.mp4", "soup_b.mp4", "sample_video.mp4", "soup_c.mp4", "absent.mp4"]
    metadata = write_metadata(root / "metadata.csv", [
        dict(video_file=n, sentence_id=str(i), sentence=f"Sentence {i}", category="c") for i, n in enumerate(names)])
    return root, [f"--metadata_csv={metadata}", f"--video_dir={videos}", *OPTIONS]


@pytest.fixture(scope="module")
def clean(dataset):
    root, args = dataset
    out = root / "clean"
    run_job.run([*args, f"--output_dir={out}"])
    return out


def start_job(args, env=None, module="pipeline.run", stderr=subprocess.PIPE):
    """`python -m <module>` in its own process group, as the scheduler or a shell starts it."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, stderr=stderr,
                            stdout=subprocess.DEVNULL, text=True, start_new_session=True,
                            env={**os.environ, **(env or {})})


def kill_group(job):
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    # The worker processes die too (once reaped, the group is empty): nothing writes after the kill.
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(job.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    pytest.fail("processes of the killed job's group are still alive")


def kill_when(job, condition, timeout=300):
    """Kills the job's process group as soon as `condition(stderr lines so far)` holds."""
    lines = []

    def read_stderr():
        for line in job.stderr:
            lines.append(line)

    threading.Thread(target=read_stderr, daemon=True).start()
    deadline = time.time() + timeout
    while not condition(lines):
        if job.poll() is not None:
            pytest.fail(f"the job ended (exit {job.returncode}) before the moment it was to be killed:\n"
                        + "".join(lines[-20:]))
        if time.time() > deadline:
            kill_group(job)
            pytest.fail("the moment to kill the job never came:\n" + "".join(lines[-20:]))
        time.sleep(0.1)
    kill_group(job)


def finished_videos(lines):
    return max((int(m.group(1)) for line in lines if (m := PROGRESS.search(line))), default=0)


def files_under(out: Path):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def held_by_dead_process(out: Path) -> bool:
    holder = json.loads(Path(lease.lease_path(str(out))).read_text())
    return holder["host"] == socket.gethostname() and not Path(f"/proc/{holder['pid']}").exists()


@pytest.fixture(scope="module")
def killed_midway(dataset, clean):
    root, args = dataset
    out = root / "midway"
    job = start_job([*args, f"--output_dir={out}", "--verbose"])  # each finished video's line, as it comes
    kill_when(job, lambda lines: finished_videos(lines) >= 2)
    after_kill = files_under(out)
    lease_left = held_by_dead_process(out)
    # A write cut short by the kill, as write_bytes names it: a partial .npy under a temporary name.
    partial = out / "features" / "pose_data" / f".soup_c.npy.{uuid.uuid4().hex}.tmp"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes((clean / "features" / "pose_data" / "soup_c.npy").read_bytes()[:1000])
    summary = run_job.run([*args, f"--output_dir={out}"])
    return out, after_kill, lease_left, summary


def test_a_run_killed_midway_leaves_no_summary(killed_midway):
    _, after_kill, _, _ = killed_midway
    assert "proc/run_summary.json" not in after_kill


def test_after_a_kill_midway_the_next_run_ends_like_a_clean_run(killed_midway, clean):
    out, _, _, summary = killed_midway
    assert summary["rows"] == 6
    assert_same_outputs(out, clean)


def test_a_partial_file_is_never_taken_for_a_finished_one(killed_midway, clean):
    out, _, _, _ = killed_midway
    assert not [f for f in files_under(out) if f.endswith(".tmp")]
    assert files_under(out / "features") == files_under(clean / "features")


def test_the_killed_runs_lease_does_not_block_the_next_run(killed_midway):
    """Its process is dead and it ran on this host, so the next run takes the lease over, then releases it."""
    out, _, lease_left, _ = killed_midway
    assert lease_left
    assert not Path(lease.lease_path(str(out))).exists()


def download(prefix: str, local: Path) -> Path:
    """A local copy of the outputs under a gs:// prefix, its reports naming the copy as a local run's would."""
    for name in storage.list_objects(prefix):
        data = storage.read_bytes(f"{prefix}/{name}")
        if name.startswith("proc/") and name.endswith(".csv"):
            data = data.replace(prefix.encode(), str(local).encode())
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    return local


def start_job_until(args, gcs_proxy, file_name, module="pipeline.run"):
    """Starts the job and kills its process group when it asks to write `file_name` (the end of an object name)."""
    reached = gcs_proxy.hold(lambda kind, method, name: kind == "upload" and name.endswith(file_name))
    with tempfile.TemporaryFile("w+") as log:
        job = start_job(args, module=module, stderr=log)
        try:
            while not reached.wait(timeout=0.2):
                if job.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"the job ended (exit {job.returncode}) before writing {file_name}:\n"
                                + log.read()[-3000:])
            kill_group(job)
        finally:
            gcs_proxy.release_holds()


@pytest.fixture(scope="module")
def killed_in_reports(dataset, clean, gcs_emulator, gcs_proxy, tmp_path_factory):
    root, args = dataset
    out = f"{gcs_emulator}/killed/in_reports"
    # Written after the CSVs and before the summary (transforms/reports/run_reports.py).
    start_job_until([*args, f"--output_dir={out}"], gcs_proxy, "killed/in_reports/proc/global_stats.npz")
    after_kill = sorted(storage.list_objects(out))
    summary = run_job.run([*args, f"--output_dir={out}"])
    return download(out, tmp_path_factory.mktemp("in_reports")), after_kill, summary


def test_a_run_killed_while_writing_its_reports_leaves_no_summary(killed_in_reports):
    _, after_kill, _ = killed_in_reports
    assert "proc/processed_metadata.csv" in after_kill and "proc/run_summary.json" not in after_kill


def test_after_a_kill_in_the_reports_the_next_run_reuses_every_video_and_ends_like_a_clean_run(
        killed_in_reports, clean):
    out, _, summary = killed_in_reports
    assert summary["videos_decoded"] == 0 and summary["videos_reused"] == 5
    assert_same_outputs(out, clean)
    assert json.loads((out / "proc" / "run_summary.json").read_text())["counts"] == \
        json.loads((clean / "proc" / "run_summary.json").read_text())["counts"]
