"""The lease on --output_dir: one run at a time, stale leases taken over, never another run's lease deleted.

Local paths and gs:// on the GCS emulator. gcp-storage-emulator ignores
ifGenerationMatch (checked: a second create with ifGenerationMatch=0 overwrites),
so on GCS the race itself cannot be played here; the tests check that the
precondition is sent, and everything that does not depend on it.
"""
import json
import os
import subprocess
import sys
import threading
import time
from unittest import mock

import pytest

from pipeline import run as run_job
from tests.conftest import write_metadata
from transforms.store import lease
from transforms.common import storage


@pytest.fixture(params=["local", "gcs"])
def output_dir(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "out")
    bucket = request.getfixturevalue("gcs_emulator")
    return f"{bucket}/lease-{request.node.name.replace('[', '-').rstrip(']')}-{time.time_ns()}"


def holder_of(output_dir):
    return json.loads(storage.read_bytes(lease.lease_path(output_dir)))


def write_lease(output_dir, **fields):
    body = {"run_id": "old-run", "host": "elsewhere", "pid": os.getpid(), "started_at": "2026-01-01T00:00:00Z",
            "started_unix": time.time(), "local": True, **fields}
    storage.write_text(lease.lease_path(output_dir), json.dumps(body))


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_lease_names_the_run_that_holds_it(output_dir):
    lease.acquire(output_dir, "run-1", local=True)
    held = holder_of(output_dir)
    assert held["run_id"] == "run-1" and held["pid"] == os.getpid() and held["started_at"].endswith("Z")


def test_a_second_run_is_refused_naming_the_holder_and_since_when(output_dir):
    lease.acquire(output_dir, "run-1", local=True)
    with pytest.raises(lease.LeaseHeld, match=r"in use by run run-1 on host .* started 20.*--break_lease"):
        lease.acquire(output_dir, "run-2", local=True)
    assert holder_of(output_dir)["run_id"] == "run-1"


def test_a_lease_older_than_the_limit_is_taken_over(output_dir):
    write_lease(output_dir, started_unix=time.time() - lease.MAX_AGE_SECONDS - 60)
    lease.acquire(output_dir, "run-2", local=True)
    assert holder_of(output_dir)["run_id"] == "run-2"


def test_break_lease_takes_over_a_live_runs_lease(output_dir):
    lease.acquire(output_dir, "run-1", local=True)
    lease.acquire(output_dir, "run-2", local=True, break_lease=True)
    assert holder_of(output_dir)["run_id"] == "run-2"


def test_a_lease_of_a_dead_local_process_on_this_host_is_taken_over(output_dir):
    import socket
    write_lease(output_dir, host=socket.gethostname(), pid=dead_pid())
    lease.acquire(output_dir, "run-2", local=True)
    assert holder_of(output_dir)["run_id"] == "run-2"


def test_a_submitted_jobs_lease_outlives_its_launcher_process(output_dir):
    """A Dataflow job goes on after the process that launched it has exited."""
    import socket
    write_lease(output_dir, host=socket.gethostname(), pid=dead_pid(), local=False)
    with pytest.raises(lease.LeaseHeld, match="old-run"):
        lease.acquire(output_dir, "run-2", local=True)


def test_an_unreadable_lease_holds_until_the_age_limit(tmp_path):
    """A run killed between creating its lease and writing it leaves an empty file that names nobody."""
    out = str(tmp_path / "out")
    path = lease.lease_path(out)
    os.makedirs(os.path.dirname(path))
    open(path, "w").close()
    with pytest.raises(lease.LeaseHeld, match="unreadable lease"):
        lease.acquire(out, "run-2", local=True)
    day_and_a_bit_ago = time.time() - lease.MAX_AGE_SECONDS - 60
    os.utime(path, (day_and_a_bit_ago, day_and_a_bit_ago))
    lease.acquire(out, "run-2", local=True)
    assert holder_of(out)["run_id"] == "run-2"


def test_a_release_deletes_only_its_own_lease(output_dir):
    lease.acquire(output_dir, "run-1", local=True)
    assert not lease.release(output_dir, "run-2")
    assert holder_of(output_dir)["run_id"] == "run-1"
    assert lease.release(output_dir, "run-1")
    assert not storage.exists(lease.lease_path(output_dir))


def test_a_run_that_lost_its_lease_does_not_release_the_new_one(output_dir):
    lease.acquire(output_dir, "run-1", local=True)
    lease.acquire(output_dir, "run-2", local=True, break_lease=True)
    assert not lease.release(output_dir, "run-1")
    assert holder_of(output_dir)["run_id"] == "run-2"


def test_of_runs_starting_together_on_a_local_folder_exactly_one_gets_the_lease(tmp_path):
    out = str(tmp_path / "out")
    winners, start = [], threading.Barrier(8)

    def contend(i):
        start.wait()
        try:
            lease.acquire(out, f"run-{i}", local=True)
            winners.append(i)
        except lease.LeaseHeld:
            pass

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and holder_of(out)["run_id"] == f"run-{winners[0]}"


def test_on_gcs_the_lease_is_created_only_if_no_object_exists(gcs_emulator):
    from google.cloud.storage import Blob
    sent = []
    upload = Blob.upload_from_string

    def spy(self, *args, **kwargs):
        sent.append(kwargs.get("if_generation_match"))
        return upload(self, *args, **kwargs)

    with mock.patch.object(Blob, "upload_from_string", spy):
        lease.acquire(f"{gcs_emulator}/lease-precondition", "run-1", local=True)
    assert sent == [0]


@pytest.fixture
def job_args(tmp_path, sign_clips):
    metadata = write_metadata(tmp_path / "m.csv", [dict(video_file="SOUP.mp4", sentence_id="1", sentence="s",
                                                        category="c")])
    return [f"--metadata_csv={metadata}", f"--video_dir={sign_clips}", "--model_complexity=1",
            "--direct_num_workers=1"]


def test_a_run_on_a_leased_folder_stops_before_any_write_with_exit_2(output_dir, job_args, capsys):
    lease.acquire(output_dir, "run-1", local=True)
    assert run_job.main(job_args + [f"--output_dir={output_dir}"]) == 2
    assert "in use by run run-1" in capsys.readouterr().err
    assert storage.list_files(output_dir) == [lease.lease_path(output_dir)]


def test_a_failed_run_releases_its_lease(tmp_path, job_args):
    out = str(tmp_path / "out")
    with mock.patch.object(run_job.graph, "build", side_effect=RuntimeError("boom")):
        assert run_job.main(job_args + [f"--output_dir={out}"]) == 1
    assert not os.path.exists(lease.lease_path(out))
