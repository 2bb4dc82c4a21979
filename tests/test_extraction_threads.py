"""The per-video step (ProcessVideos) with two threads, each driving an extraction process, on the
DirectRunner in memory (the local default): a free thread takes the next video, results go downstream
as each video finishes, and the landmarks are exactly those of one thread decoding inline."""
import threading
import time
import uuid

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from tests.conftest import FEATURES_V1 as FEATURES
from tests.conftest import LANDMARKS, SIGN_CLIP_NAMES, looped_clip
from transforms.common import storage
from transforms.common.storage import object_info
from transforms.store.metadata import ClipRow
from transforms.store.paths import landmark_path
from transforms.store.records import source_identity
from transforms.store.results import STATUSES, SUCCESS, ClipResult, ToDecode
from transforms.store.reuse import fingerprints
from transforms.landmarks.video_step import ProcessVideos

LONG = "long.mp4"

# What the instrumented DoFn and the step after it saw, by video: the DirectRunner in
# memory runs them in this process, so module state is shared with the pipeline.
EVENTS = []


class _Recorded(ProcessVideos):
    def _decode(self, item):
        started = time.monotonic()
        decoded = super()._decode(item)
        EVENTS.append(("decoded", item.row.video_file, threading.current_thread().name, started, time.monotonic()))
        return decoded


def _seen_downstream(result: ClipResult, out: str):
    pose = storage.read_bytes(landmark_path(out, result.feature_stem))
    EVENTS.append(("downstream", result.video_file, threading.current_thread().name, pose, time.monotonic()))


@pytest.fixture(scope="module")
def videos(sign_clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    # About three times the frames of the four real clips together (170 frames): while one thread
    # decodes it, the other has time for all of them.
    looped_clip(sign_clips / "test_video.mp4", folder / LONG, 9)
    for name in SIGN_CLIP_NAMES:
        (folder / name).symlink_to(sign_clips / name)
    return folder


def _items(folder, names):
    return [ToDecode(ClipRow(line=i + 2, video_file=name, sentence_id=str(i), sentence="s", category="c", extra={}),
                     source_identity(object_info(str(folder / name))), "new") for i, name in enumerate(names)]


def _run(folder, out, threads, names=(LONG, *SIGN_CLIP_NAMES)):
    """(.pose bytes by video, events, Beam counters) of a pipeline decoding `names`, in this order."""
    EVENTS.clear()
    options = PipelineOptions()
    options.view_as(DirectOptions).direct_running_mode = "in_memory"
    options.view_as(DirectOptions).direct_num_workers = 1
    p = beam.Pipeline(options=options)
    # The long video first: a fixed split of the input would give it a share of the others too.
    processed = (p
                 | beam.Create(_items(folder, names))
                 | beam.ParDo(_Recorded(str(folder), str(out), LANDMARKS, FEATURES, fingerprints(LANDMARKS, FEATURES),
                                        run_id=uuid.uuid4().hex, threads=threads)).with_outputs(*STATUSES))
    # The clips all pass: their one stream is the step's own output, fused with the step after it.
    _ = processed[SUCCESS] | beam.Map(_seen_downstream, str(out))
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    events = list(EVENTS)
    return {e[1]: e[3] for e in events if e[0] == "downstream"}, events, counters


@pytest.fixture(scope="module")
def two_threads(videos, tmp_path_factory):
    return _run(videos, tmp_path_factory.mktemp("out2"), threads=2)


def test_a_free_thread_takes_the_next_video(two_threads):
    _, events, _ = two_threads
    decoded = [e for e in events if e[0] == "decoded"]
    assert sorted(e[1] for e in decoded) == sorted([LONG, *SIGN_CLIP_NAMES])
    [long_thread] = {e[2] for e in decoded if e[1] == LONG}
    # Both threads worked; the one with the long video did nothing else, the other did all the rest.
    assert [e[1] for e in decoded if e[2] == long_thread] == [LONG]
    others = [e for e in decoded if e[2] != long_thread]
    assert len({e[2] for e in others}) == 1 and len(others) == len(SIGN_CLIP_NAMES)


def test_each_video_goes_downstream_when_it_is_done_not_after_the_last(two_threads):
    _, events, _ = two_threads
    long_done = next(e[4] for e in events if e[0] == "decoded" and e[1] == LONG)
    downstream = {e[1]: e[4] for e in events if e[0] == "downstream"}
    assert set(downstream) == {LONG, *SIGN_CLIP_NAMES}
    for name in SIGN_CLIP_NAMES:
        assert downstream[name] < long_done, f"{name} waited for the long video"


def test_counters_count_every_video_decoded_on_the_threads(two_threads):
    stored, _, counters = two_threads
    # Beam's metrics belong to the bundle's thread: updated from an extraction thread they would be lost.
    assert counters["videos_decoded"] == len(stored) == 5
    assert counters["frames_decoded"] == 9 * 58 + 62 + 41 + 9 + 58  # SOURCES.md: FOOTBALL decodes 62 of 64


def test_two_threads_write_the_landmarks_one_thread_writes(two_threads, videos, tmp_path):
    by_two, _, _ = two_threads
    by_one, events, _ = _run(videos, tmp_path / "out1", threads=1, names=SIGN_CLIP_NAMES)
    assert len({e[2] for e in events if e[0] == "decoded"}) == 1
    assert by_one.keys() == set(SIGN_CLIP_NAMES)
    for name in by_one:
        assert by_two[name] == by_one[name], name


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads must be 1 or more"):
        ProcessVideos("v", "o", LANDMARKS, FEATURES, fingerprints(LANDMARKS, FEATURES), threads=0)


def _resolved(*argv):
    from pipeline import preflight

    options = PipelineOptions(list(argv))
    threads = preflight.extraction_threads(options, list(argv))
    direct = options.view_as(DirectOptions)
    return threads, direct.direct_running_mode, direct.direct_num_workers


def test_a_local_run_decodes_one_video_per_core_on_threads_of_an_in_memory_runner():
    import os

    assert _resolved() == (os.cpu_count(), "in_memory", 1)
    assert _resolved("--direct_num_workers=3") == (3, "in_memory", 1)
    assert _resolved("--direct_num_workers=0") == (os.cpu_count(), "in_memory", 1)  # Beam's 0: one per core


def test_a_negative_worker_count_stops_the_run_with_how_to_fix_it():
    from pipeline.preflight import ConfigError

    with pytest.raises(ConfigError, match=r"--direct_num_workers=-2: use 0 \(one video per core\) or a positive"):
        _resolved("--direct_num_workers=-2")


def test_beams_own_workers_when_asked_for_and_one_thread_on_dataflow():
    assert _resolved("--direct_running_mode=multi_processing", "--direct_num_workers=2") == (1, "multi_processing", 2)
    threads, _, _ = _resolved("--runner=DataflowRunner")
    assert threads == 1


def test_local_runs_skip_the_direct_runners_choice_of_runner():
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipeline.options import batch_runner

    assert isinstance(batch_runner(PipelineOptions([])), FnApiRunner)
    assert isinstance(batch_runner(PipelineOptions(["--runner=DirectRunner"])), FnApiRunner)
    assert batch_runner(PipelineOptions(["--runner=DataflowRunner"])) is None
    assert batch_runner(PipelineOptions(["--runner=BundleBasedDirectRunner"])) is None
