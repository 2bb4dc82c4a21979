"""run_dataflow.sh, driven offline: a `gcloud` stand-in on PATH records every call.

With --dry-run the script prints each command (one per line, shell-quoted)
instead of running it; without it, the stand-ins record what actually ran.
Both must agree, so what a data engineer reviews with --dry-run is what runs.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.cloud.dataflow_v1beta3 import types as dataflow

from pipeline import run
from transforms.common import storage

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "run_dataflow.sh"
PROJECT = "ghsl-test-123456"
IMAGE = f"us-central1-docker.pkg.dev/{PROJECT}/ghsl/ghsl-preprocessing:test"
TEMPLATE = "gs://ghsl-datasets/dataflow/templates/ghsl-preprocessing.json"
SERVICE_ACCOUNT = f"ghsl-dataflow@{PROJECT}.iam.gserviceaccount.com"
SUBCOMMANDS = ("build", "template", "run", "launch", "schedule", "status")

# Records its arguments as one JSON line; `scheduler jobs describe` answers as told
# by STANDIN_SCHEDULER_JOB_EXISTS (the only call the script makes to decide something).
STANDIN = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\\n")
if sys.argv[1:4] == ["scheduler", "jobs", "describe"]:
    sys.exit(0 if os.environ.get("STANDIN_SCHEDULER_JOB_EXISTS") == "1" else 1)
"""


@pytest.fixture
def standins(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gcloud", "python"):
        path = bin_dir / name
        path.write_text(STANDIN)
        path.chmod(0o755)
    return bin_dir


@pytest.fixture
def script(standins, tmp_path):
    log = tmp_path / "calls.jsonl"
    # Only the GHSL_* settings the tests choose: none leak in from the caller's shell.
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GHSL_") and k != "CLOUDSDK_CORE_PROJECT"}
    base_env.update(PATH=f"{standins}:{os.environ['PATH']}", STANDIN_LOG=str(log), GHSL_PROJECT=PROJECT,
                    GHSL_IMAGE_TAG="test", GHSL_JOB_NAME="ghsl-preprocessing-test",
                    GHSL_PYTHON=str(standins / "python"))

    def invoke(*args, env=None, check=True):
        if log.exists():
            log.unlink()
        done = subprocess.run([str(SCRIPT), *args], env={**base_env, **(env or {})}, capture_output=True,
                              text=True, timeout=30)
        if check:
            assert done.returncode == 0, done.stderr
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        printed = [shlex.split(line) for line in done.stdout.splitlines() if line.strip()]
        return done, printed, calls

    return invoke


def _flag(command, name):
    values = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}=")]
    assert len(values) == 1, f"{name} given {len(values)} times in {command}"
    return values[0]


def _parameters(command) -> dict:
    return dict(arg.split("=", 2)[1:] for arg in command if arg.startswith("--parameters="))


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_dry_run_prints_commands_and_runs_none_that_change_anything(script, subcommand):
    _, printed, calls = script("--dry-run", subcommand)
    assert printed
    assert all(call[1:4] == ["scheduler", "jobs", "describe"] for call in calls), calls


@pytest.mark.parametrize("subcommand", ["build", "template", "run", "launch", "status"])
def test_what_dry_run_prints_is_what_runs(script, subcommand):
    _, printed, _ = script("--dry-run", subcommand)
    _, _, calls = script(subcommand)
    assert [[Path(c[0]).name] + c[1:] for c in printed] == calls


def test_schedule_runs_what_dry_run_prints(script):
    _, printed, _ = script("--dry-run", "schedule")
    _, _, calls = script("schedule")
    assert calls[0][1:4] == ["scheduler", "jobs", "describe"]
    assert calls[1:] == printed


def test_build_submits_the_repo_to_cloud_build_with_the_image_tag(script):
    _, [command], _ = script("--dry-run", "build")
    assert command[:4] == ["gcloud", "builds", "submit", str(REPO)]
    assert _flag(command, "--tag") == IMAGE
    assert _flag(command, "--project") == PROJECT


def test_template_builds_the_flex_template_from_the_image_and_metadata(script):
    _, [command], _ = script("--dry-run", "template")
    assert command[:5] == ["gcloud", "dataflow", "flex-template", "build", TEMPLATE]
    assert _flag(command, "--image") == IMAGE
    assert _flag(command, "--sdk-language") == "PYTHON"
    assert _flag(command, "--metadata-file") == str(REPO / "metadata.json")
    assert _flag(command, "--worker-machine-type") == "n2-standard-4"


def test_run_launches_the_pipeline_module_on_dataflow_with_the_worker_tuning(script):
    _, [command], _ = script("--dry-run", "run", "--", "--model_complexity=1")
    assert command[1:3] == ["-m", "pipeline.run"]
    assert _flag(command, "--runner") == "DataflowRunner"
    assert _flag(command, "--sdk_container_image") == IMAGE
    assert _flag(command, "--machine_type") == "n2-standard-4"
    assert _flag(command, "--number_of_worker_harness_threads") == "1"
    assert _flag(command, "--max_num_workers") == "8"
    assert _flag(command, "--metadata_csv") == "gs://ghsl-datasets/sample_dataset/sampled_metadata.csv"
    assert _flag(command, "--video_dir") == "gs://ghsl-datasets/sample_dataset/videos"
    assert _flag(command, "--output_dir") == "gs://ghsl-datasets"
    assert command[-1] == "--model_complexity=1"


def test_the_printed_run_command_builds_a_valid_dataflow_job(script, tmp_path, gcs_emulator):
    _, [command], _ = script("--dry-run", "run")
    metadata_csv = tmp_path / "sampled_metadata.csv"
    metadata_csv.write_text("video_file,sentence_id,sentence,category\nSOUP.mp4,1,soup,food\n")
    # The launcher checks the folders before it submits: point them at the emulator's bucket.
    storage.write_bytes(f"{gcs_emulator}/sample_dataset/videos/SOUP.mp4", b"video")
    argv = [a.replace("gs://ghsl-datasets", gcs_emulator) for a in command[3:] if not a.startswith("--metadata_csv=")]
    assert run.main(argv + [f"--metadata_csv={metadata_csv}", "--dry_run=True"]) == 0


def test_launch_runs_the_template_with_the_image_and_pipeline_parameters(script):
    _, [command], _ = script("--dry-run", "launch", "--", "--model_complexity=1", "--min_frames=32")
    assert command[:5] == ["gcloud", "dataflow", "flex-template", "run", "ghsl-preprocessing-test"]
    assert _flag(command, "--template-file-gcs-location") == TEMPLATE
    assert _flag(command, "--region") == "us-central1"
    assert _flag(command, "--service-account-email") == SERVICE_ACCOUNT
    assert _parameters(command) == {
        "metadata_csv": "gs://ghsl-datasets/sample_dataset/sampled_metadata.csv",
        "video_dir": "gs://ghsl-datasets/sample_dataset/videos",
        "output_dir": "gs://ghsl-datasets",
        "sdk_container_image": IMAGE,
        "number_of_worker_harness_threads": "1",
        "model_complexity": "1",
        "min_frames": "32",
    }


@pytest.mark.parametrize("exists, verb", [("0", "create"), ("1", "update")])
def test_schedule_creates_or_updates_the_scheduler_job(script, exists, verb):
    _, [command], calls = script("--dry-run", "schedule", env={"STANDIN_SCHEDULER_JOB_EXISTS": exists})
    assert calls == [["gcloud", "scheduler", "jobs", "describe", "ghsl-preprocessing-weekly",
                      f"--project={PROJECT}", "--location=us-central1"]]
    assert command[:6] == ["gcloud", "scheduler", "jobs", verb, "http", "ghsl-preprocessing-weekly"]


def test_schedule_posts_a_flex_template_launch_request_with_oauth(script):
    _, [command], _ = script("--dry-run", "--schedule=0 4 * * 1", "schedule", "--", "--model_complexity=1")
    assert _flag(command, "--schedule") == "0 4 * * 1"
    assert _flag(command, "--time-zone") == "Africa/Accra"
    assert _flag(command, "--uri") == (
        f"https://dataflow.googleapis.com/v1b3/projects/{PROJECT}/locations/us-central1/flexTemplates:launch")
    assert _flag(command, "--http-method") == "POST"
    assert _flag(command, "--headers") == "Content-Type=application/json"
    assert _flag(command, "--oauth-service-account-email") == SERVICE_ACCOUNT
    assert _flag(command, "--oauth-token-scope") == "https://www.googleapis.com/auth/cloud-platform"
    body = _flag(command, "--message-body")
    # The body must be a valid LaunchFlexTemplateRequest (unknown fields are rejected).
    dataflow.LaunchFlexTemplateRequest.from_json(body)
    launch = json.loads(body)["launchParameter"]
    assert launch["containerSpecGcsPath"] == TEMPLATE
    assert launch["parameters"]["sdk_container_image"] == IMAGE
    assert launch["parameters"]["model_complexity"] == "1"
    assert launch["environment"]["machineType"] == "n2-standard-4"
    assert launch["environment"]["maxWorkers"] == 8


def test_no_public_ips_and_network_reach_every_launch_path(script):
    settings = ["--dry-run", "--no-public-ips", "--network=ghsl-vpc",
                "--subnetwork=regions/us-central1/subnetworks/ghsl-workers"]
    _, [run_command], _ = script(*settings, "run")
    assert "--no_use_public_ips" in run_command
    assert _flag(run_command, "--subnetwork") == "regions/us-central1/subnetworks/ghsl-workers"
    for subcommand in ("template", "launch"):
        _, [command], _ = script(*settings, subcommand)
        assert "--disable-public-ips" in command
        assert _flag(command, "--network") == "ghsl-vpc"
    _, [schedule], _ = script(*settings, "schedule")
    environment = json.loads(_flag(schedule, "--message-body"))["launchParameter"]["environment"]
    assert environment["ipConfiguration"] == "WORKER_IP_PRIVATE"
    assert environment["network"] == "ghsl-vpc"


def test_flags_override_environment_variables(script):
    env = {"GHSL_REGION": "europe-west1", "GHSL_MACHINE_TYPE": "n2-highcpu-8", "GHSL_MAX_WORKERS": "20"}
    _, [command], _ = script("--dry-run", "--region=africa-south1", "launch", env=env)
    assert _flag(command, "--region") == "africa-south1"
    assert _flag(command, "--worker-machine-type") == "n2-highcpu-8"
    assert _flag(command, "--max-workers") == "20"


def test_without_a_project_it_stops_with_how_to_fix_it(script):
    done, printed, calls = script("--dry-run", "build", env={"GHSL_PROJECT": ""}, check=False)
    assert done.returncode == 2
    assert "--project" in done.stderr and "GHSL_PROJECT" in done.stderr
    assert not printed and not calls


def test_unknown_subcommands_and_settings_are_refused(script):
    for args in (["deploy"], ["--zone=x", "build"]):
        done, _, _ = script("--dry-run", *args, check=False)
        assert done.returncode == 2, args


def test_shellcheck_finds_nothing():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (`make install` installs it where apt-get is available)")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
