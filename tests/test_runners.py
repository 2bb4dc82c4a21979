"""Runners by how they run: a job that runs in the launcher's process is waited for, whatever the runner.

Beam's portable runner with its embedded job service and LOOPBACK workers (Beam's local model of
Runner v2, and the way to Flink and Spark job servers) runs the same graph as the DirectRunner, and
gives the same outputs; a launch never returns having killed its own job.
"""
import hashlib
import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import run as run_job
from pipeline.options import runs_locally
from tests.conftest import make_dataset

CLIPS = ("SOUP.mp4", "sample_video.mp4")
OPTIONS = ["--model_complexity=1", "--min_frames=5"]
PORTABLE = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]


@pytest.mark.parametrize("argv, in_process", [
    ([], True),
    (["--runner=DirectRunner"], True),
    (PORTABLE, True),
    (["--runner=PortableRunner", "--job_endpoint=localhost:8099"], False),
    (["--runner=FlinkRunner"], True),                                     # a Flink started for this job
    (["--runner=FlinkRunner", "--flink_master=flink.example:8081"], False),
    (["--runner=SparkRunner", "--spark_master_url=spark://spark.example:7077"], False),
    (["--runner=DataflowRunner"], False),
])
def test_a_runner_is_in_process_or_detached_by_how_it_runs_not_by_its_name(argv, in_process):
    assert runs_locally(PipelineOptions(argv)) is in_process


# What tells two runs apart besides their outputs: when they ran, how long they took, and the versions (local
# mtimes) of the files they wrote, which the record index and the preview cache are keyed by.
RUN_SPECIFIC = {"run_summary.json", "run_log.txt", "report.html", "manifest.json", "croissant.json", ".lease.json",
                "records.jsonl.gz", "report_previews.json"}


def outputs(out):
    """Every output's bytes (the output folder's own path taken out), but those that say when the run ran and
    the files' identities in the store that records keep (another file, another modification time)."""
    return {path.relative_to(out).as_posix(): hashlib.sha256(content(path).replace(str(out).encode(), b"OUT"))
            .hexdigest() for path in sorted(out.rglob("*")) if path.is_file() and path.name not in RUN_SPECIFIC}


def content(path):
    if path.suffix != ".json" or "records" not in path.parts:
        return path.read_bytes()
    return json.dumps(without_identities(json.loads(path.read_text())), sort_keys=True).encode()


def without_identities(value):
    if isinstance(value, dict):
        return {k: without_identities(v) for k, v in value.items() if k != "stored"}
    return value


@pytest.fixture(scope="module")
def both(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("runners")
    metadata, videos = make_dataset(root, [(name, sign_clips / name) for name in CLIPS])
    argv = [f"--metadata_csv={metadata}", f"--video_dir={videos}", *OPTIONS]
    direct = run_job.run([*argv, f"--output_dir={root / 'direct'}"])
    portable = run_job.run([*argv, f"--output_dir={root / 'portable'}", *PORTABLE])
    return root, direct, portable


def test_the_portable_runner_runs_the_job_to_its_end(both):
    root, _, portable = both
    assert portable["counts"]["success"] == len(CLIPS) and portable["videos_decoded"] == len(CLIPS)
    assert (root / "portable" / "proc" / "run_summary.json").exists()
    assert portable["release"]["status"] == "built"


def test_the_portable_runner_gives_the_direct_runners_outputs(both):
    root, direct, portable = both
    assert outputs(root / "portable") == outputs(root / "direct")
    assert portable["release"]["release_id"] == direct["release"]["release_id"]
