"""ExtractorProcess: HolisticExtractor in a child process, how a local run decodes several videos at once.

The same errors as in this process (the same .pose bytes: tests/test_extraction_threads.py
compares two videos at once, in these processes, with one thread decoding inline, on every
clip); a child that dies on a video fails that video alone (the next one gets a new child),
in ProcessVideos too; and no child outlives the process that started it, killed or
interrupted, nor dies of a Ctrl-C its run ignores.
"""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from typing import Optional, Tuple

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from tests.conftest import FEATURES_V1, LANDMARKS, REPO, every_result, looped_clip
from transforms.common.storage import object_info
from transforms.landmarks.extractor_process import ExtractorProcess, ExtractorProcessDied
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError
from transforms.store.metadata import ClipRow
from transforms.store.paths import landmark_path, record_path
from transforms.store.records import source_identity
from transforms.store.results import FAILED, STATUSES, SUCCESS, ToDecode
from transforms.store.reuse import fingerprints
from transforms.landmarks.video_step import ProcessVideos

MODULE = "transforms.landmarks.extractor_process"
# What reached the step after ProcessVideos: the DirectRunner in memory runs it in this process.
FOUND = []


def _extraction_process(pid) -> Optional[Tuple[int, float]]:
    """(parent pid, CPU seconds so far) of `pid` if it is an extraction process at work (not ended, not a
    zombie), read from /proc; else None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
    except OSError:  # ended meanwhile
        return None
    if MODULE.encode() not in command or fields[0] == "Z":
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def extraction_processes(parent: int):
    """{pid: CPU seconds so far} of the extraction processes `parent` started."""
    found = {int(pid): _extraction_process(pid) for pid in filter(str.isdigit, os.listdir("/proc"))}
    return {pid: info[1] for pid, info in found.items() if info is not None and info[0] == parent}


def kill_when_busy(parent: int, after_cpu_seconds: float = 1.0, timeout: float = 60.0) -> threading.Thread:
    """From outside, as the kernel's OOM killer would: SIGKILL the first extraction process of `parent` that
    has worked `after_cpu_seconds` (its model built, a video under way)."""
    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid, cpu in extraction_processes(parent).items():
                if cpu >= after_cpu_seconds:
                    os.kill(pid, signal.SIGKILL)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def long_video(sign_clips, tmp_path_factory):
    """The real clip played 4 times over (232 frames): long enough to be killed in the middle of."""
    return looped_clip(sign_clips / "test_video.mp4", tmp_path_factory.mktemp("long") / "long.mp4", 4)


@pytest.fixture(scope="module")
def in_this_process():
    extractor = HolisticExtractor(**LANDMARKS)
    yield extractor
    extractor.close()


@pytest.fixture
def extractor():
    extractor = ExtractorProcess(**LANDMARKS)
    yield extractor
    extractor.close()


def test_a_bad_file_raises_what_this_process_raises(extractor, in_this_process, tmp_path):
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_bytes(b"minutes of the meeting, not a video\n" * 50)
    with pytest.raises(VideoDecodeError) as here:
        in_this_process.extract(str(not_a_video))
    with pytest.raises(VideoDecodeError) as there:
        extractor.extract(str(not_a_video))
    assert str(there.value) == str(here.value)
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        extractor.extract(str(tmp_path / "gone.mp4"))


def test_a_process_that_cannot_start_mediapipe_says_why_for_every_video(sign_clips):
    extractor = ExtractorProcess(**{**LANDMARKS, "model_complexity": 7})
    try:
        for _ in range(2):  # the process stays, answering each video with the reason
            with pytest.raises(RuntimeError, match=r"could not start MediaPipe: ModelNotAvailable: "
                                                   r"--model_complexity=7 is not valid; use 0 \(lite\), 1"):
                extractor.extract(str(sign_clips / "SOUP.mp4"))
    finally:
        extractor.close()


def test_a_killed_process_fails_its_video_and_the_next_video_gets_a_new_one(extractor, in_this_process, long_video,
                                                                          sign_clips):
    killer = kill_when_busy(os.getpid())
    with pytest.raises(ExtractorProcessDied, match=r"ended while decoding this video \(killed by SIGKILL\).*re-run"):
        extractor.extract(str(long_video))
    killer.join()
    soup = str(sign_clips / "SOUP.mp4")
    assert extractor.extract(soup) == in_this_process.extract(soup)
    assert len(extraction_processes(os.getpid())) == 1


def test_process_videos_fails_only_the_video_whose_process_died(long_video, sign_clips, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "long.mp4").symlink_to(long_video)
    (folder / "SOUP.mp4").symlink_to(sign_clips / "SOUP.mp4")
    out = tmp_path / "out"
    items = [ToDecode(ClipRow(line=i + 2, video_file=name, sentence_id=str(i), sentence="s", category="c", extra={}),
                      source_identity(object_info(str(folder / name))), "new")
             for i, name in enumerate(("long.mp4", "SOUP.mp4"))]
    options = PipelineOptions()
    options.view_as(DirectOptions).direct_running_mode = "in_memory"
    options.view_as(DirectOptions).direct_num_workers = 1
    FOUND.clear()
    # SOUP's whole process (start and 41 frames) takes about 3 s of CPU, the long clip's about 11: only the long
    # clip's process gets this far, well before its end.
    killer = kill_when_busy(os.getpid(), after_cpu_seconds=6.0)
    with beam.Pipeline(options=options) as p:
        processed = (p
                     | beam.Create(items)
                     | beam.ParDo(ProcessVideos(str(folder), str(out), LANDMARKS, FEATURES_V1,
                                                fingerprints(LANDMARKS, FEATURES_V1), run_id=uuid.uuid4().hex,
                                                threads=2)).with_outputs(*STATUSES))
        _ = every_result(processed) | beam.Map(_found)
    killer.join()
    results = {r.video_file: r for r in FOUND}
    assert results["SOUP.mp4"].status == SUCCESS
    died = results["long.mp4"]
    assert died.status == FAILED and died.retryable and "killed by SIGKILL" in died.error
    # Retryable: nothing recorded, so the next run decodes it again.
    assert not os.path.exists(record_path(str(out), died.feature_stem))
    assert not os.path.exists(landmark_path(str(out), died.feature_stem))
    assert extraction_processes(os.getpid()) == {}  # the run's teardown ended the other one


def _found(result):
    FOUND.append(result)


def started_mid_video(script) -> subprocess.Popen:
    """`python script` in a session of its own, once its extraction process is at work on a video (the
    script prints "started" just before it sends one)."""
    run = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    assert run.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 60
    while not any(cpu >= 1.0 for cpu in extraction_processes(run.pid).values()):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    return run


def _running(pid: int) -> bool:
    return _extraction_process(pid) is not None


@pytest.mark.parametrize("how", ["SIGKILL to the run", "Ctrl-C to the run's process group"])
def test_no_extraction_process_outlives_the_run(how, long_video, tmp_path):
    """A killed run cannot close its children: they notice and end, mid-video too."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from transforms.landmarks.extractor_process import ExtractorProcess
        extractor = ExtractorProcess(**{LANDMARKS!r})
        print("started", flush=True)
        try:
            extractor.extract({str(long_video)!r})
        except KeyboardInterrupt:
            sys.exit(130)
    """))
    run = started_mid_video(script)
    children = list(extraction_processes(run.pid))
    if how.startswith("SIGKILL"):
        run.kill()
    else:
        os.killpg(run.pid, signal.SIGINT)
    run.wait(timeout=30)
    deadline = time.monotonic() + 5
    while any(map(_running, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, children)), f"an extraction process outlived the run ({how})"
    if not how.startswith("SIGKILL"):
        assert run.returncode == 130
        assert "Traceback" not in run.stderr.read()  # the child ended without a word


def test_where_ctrl_c_is_ignored_the_extraction_process_ignores_it_too(sign_clips, tmp_path):
    """A run started in the background by a script ignores SIGINT; its extraction process must not die of it."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does for a background job
        from transforms.landmarks.extractor_process import ExtractorProcess
        extractor = ExtractorProcess(**{LANDMARKS!r})
        print("started", flush=True)
        print(len(extractor.extract({str(sign_clips / "FOOTBALL.mp4")!r})) > 0, flush=True)
        extractor.close()
    """))
    run = started_mid_video(script)
    os.killpg(run.pid, signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert out.strip() == "True"
