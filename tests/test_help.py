"""--help: every option of every entry point with a line of help and its default, the default the job uses."""
import argparse
import importlib
import re

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import REQUIRED, GhslOptions

ENTRY_POINTS = ("pipeline.run", "pipeline.report", "pipeline.augment_text", "pipeline.release")


def options():
    parser = argparse.ArgumentParser()
    GhslOptions._add_argparse_args(parser)
    return [a for a in parser._actions if a.option_strings and a.option_strings[0].startswith("--")]


@pytest.fixture(scope="module", params=ENTRY_POINTS)
def help_text(request):
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(request.param).main(["--help"])
    assert stop.value.code == 0
    return request.param


def test_every_option_has_help_and_its_default(help_text, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # no wrapping: textwrap would split "us-central1" at its hyphen
    with pytest.raises(SystemExit):
        importlib.import_module(help_text).main(["--help"])
    # argparse wraps lines: an option's text runs from its line ("  --name …") to the next option or group.
    blocks, current = {}, None
    for line in capsys.readouterr().out.splitlines():
        found = re.match(r"^  (--\w+)", line)
        if found:
            current = found.group(1)
            blocks[current] = line
        elif current and line.startswith("   "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    parsed = PipelineOptions([]).view_as(GhslOptions)
    for action in options():
        name = action.option_strings[0]
        block = " ".join(blocks[name].split())
        assert len(block.split()) > 4, f"{name} has no help text"
        if name in REQUIRED:
            assert "(required)" in block, name
            continue
        default = getattr(parsed, name[2:])
        shown = {None: "none", "": "empty"}.get(default, str(default)) if default in (None, "") else str(default)
        assert f"(default: {shown})" in block, (name, block)
