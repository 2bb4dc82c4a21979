"""A misspelled or unknown option stops every entry point before any work, naming the closest real option."""
import importlib
import json
from pathlib import Path

import pytest

from pipeline.options import unknown_arguments

REPO = Path(__file__).resolve().parents[1]
ENTRY_POINTS = ("pipeline.run", "pipeline.report", "pipeline.augment_text", "pipeline.release")


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_a_misspelled_option_stops_with_exit_2_and_the_closest_option(module, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main([f"--output_dir={tmp_path / 'out'}", "--model_complexity=1",
                                              "--min_frame=32"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "--min_frame=32" in err and "did you mean --min_frames?" in err
    assert not (tmp_path / "out").exists()


def test_a_misspelled_beam_option_is_named_too():
    assert unknown_arguments(["--runner=DirectRunner", "--direct_num_worker=2"]) == ["--direct_num_worker=2"]


def test_an_abbreviation_of_a_real_option_is_not_accepted():
    assert unknown_arguments(["--min_frame=32", "--keep_low"]) == ["--min_frame=32", "--keep_low"]


def test_an_unknown_option_in_two_tokens_is_named_once():
    assert unknown_arguments(["--min_frame", "32", "--model_complexity", "1"]) == ["--min_frame"]


def test_a_stray_value_is_named():
    assert unknown_arguments(["--model_complexity=1", "videos/"]) == ["videos/"]


def test_ghsl_and_beam_options_in_both_forms_are_accepted():
    assert unknown_arguments(["--metadata_csv", "m.csv", "--min_frames=32", "--keep_low_quality",
                              "--prune_orphans=false", "--runner=DirectRunner", "--direct_num_workers", "2",
                              "--direct_running_mode=multi_processing"]) == []


def test_the_flex_template_launchers_parameters_are_accepted():
    """The launcher passes every template parameter, and its own Beam options, as --name=value."""
    from tests.test_dataflow_job import DATAFLOW_ARGS, GHSL_ARGS
    spec = json.loads((REPO / "metadata.json").read_text())
    parameters = [f"--{p['name']}={p.get('defaultValue', 'x')}" for p in spec["parameters"]]
    launcher = ["--job_name=ghsl-preprocessing-20260101", "--staging_location=gs://b/staging",
                "--template_location=gs://b/t.json", "--service_account_email=sa@p.iam.gserviceaccount.com",
                "--max_num_workers=8", "--experiments=use_runner_v2", "--labels=team=ghsl"]
    assert unknown_arguments(DATAFLOW_ARGS + GHSL_ARGS + launcher + parameters) == []
