"""The Flex Template spec (metadata.json), generated from the job's own options.

`python -m pipeline.flex_template > metadata.json` (or `--output metadata.json`).

Every option that the project's PipelineOptions subclasses declare (those in
the modules the entry point, pipeline.run, imports) becomes one template
parameter, with its help text, its type and a regex the launch request is
validated against, so the spec never drifts from the code: a test holds the
committed metadata.json to this output. Beam's and Dataflow's
own options (machine type, workers, image…) are not listed: the template
launch takes them as its environment.

The parameter format is Dataflow's TemplateMetadata / ParameterMetadata
(google.cloud.dataflow_v1beta3), in its JSON field names.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import json
import re
import sys
from typing import List, Optional

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import options as options_module
from transforms.features import registry

ENTRY_POINT = "pipeline.run"  # what the Dockerfile's FLEX_TEMPLATE_PYTHON_PY_FILE runs
LAUNCHER_FILE = "main.py"     # the Dockerfile's FLEX_TEMPLATE_PYTHON_PY_FILE, relative to its WORKDIR
PROJECT_PACKAGES = ("pipeline", "transforms")

TEMPLATE_NAME = "GhSL preprocessing"
TEMPLATE_DESCRIPTION = (f"MediaPipe Holistic landmarks and features ({registry.DEFAULT} unless --feature_version "
                        f"says otherwise) for Ghanaian Sign Language clips: metadata CSV and videos in, "
                        f"features/pose_data/ and proc/ reports out.")

_INTEGER = r"^[+-]?[0-9]+$"
_FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BOOLEAN = r"^(true|false)$"


def option_classes() -> list:
    """The project's PipelineOptions subclasses in the modules the entry point (pipeline.run) imports.

    pipeline.options first, then the others by module, each in source order.
    """
    found = []
    for name in sorted(_entry_point_modules(), key=lambda m: (m != options_module.__name__, m)):
        module = importlib.import_module(name)
        classes = [obj for obj in vars(module).values() if inspect.isclass(obj)
                   and issubclass(obj, PipelineOptions) and obj.__module__ == name]
        found.extend(sorted(classes, key=lambda cls: inspect.getsourcelines(cls)[1]))
    return found


def _entry_point_modules() -> set:
    """Project modules the entry point imports, directly or not (read from their source, so the
    result does not depend on what else this process has imported)."""
    seen, pending = set(), [ENTRY_POINT]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = importlib.util.find_spec(name)
        with open(spec.origin, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for candidate in candidates:
                if candidate.split(".")[0] in PROJECT_PACKAGES and _is_module(candidate):
                    pending.append(candidate)
    return seen


def _is_module(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    return spec is not None and spec.origin not in (None, "namespace") and spec.origin.endswith(".py")


def _required_names() -> set:
    """Options the job refuses to run without: option_problems() says `--name is required.`"""
    problems = " ".join(options_module.option_problems(PipelineOptions([]).view_as(options_module.GhslOptions)))
    return set(re.findall(r"--(\w+) is required", problems))


def _parameter(action: argparse.Action, group: str, required: set) -> dict:
    name = action.dest
    label = name.replace("_", " ").capitalize()
    help_text = (action.help or f"{label}.").strip()
    param = {"name": name, "label": label, "helpText": help_text,
             "isOptional": not (action.required or name in required), "groupName": group}
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)) or isinstance(action.default, bool):
        param.update(paramType="BOOLEAN", regexes=[_BOOLEAN])
    elif action.choices:
        values = [str(c) for c in action.choices]
        param.update(paramType="ENUM", regexes=["^(" + "|".join(values) + ")$"],
                     enumOptions=[{"value": v} for v in values])
    elif action.type is int:
        param.update(paramType="NUMBER", regexes=[_INTEGER])
    elif action.type is float:
        param.update(paramType="NUMBER", regexes=[_FLOAT])
    else:
        param["paramType"] = "TEXT"
    if action.default is not None:
        default = str(action.default).lower() if isinstance(action.default, bool) else str(action.default)
        param["defaultValue"] = default
        param["helpText"] = f"{help_text} Default: {default}."
    return param


def parameters() -> List[dict]:
    params, seen = [], set()
    required = _required_names()
    for cls in option_classes():
        parser = argparse.ArgumentParser(add_help=False)
        cls._add_argparse_args(parser)
        for group in parser._action_groups:
            for action in group._group_actions:
                if action.dest in seen:
                    continue
                seen.add(action.dest)
                params.append(_parameter(action, group.title, required))
    return params


def metadata() -> dict:
    return {"name": TEMPLATE_NAME, "description": TEMPLATE_DESCRIPTION, "streaming": False,
            "parameters": parameters()}


def render() -> str:
    return json.dumps(metadata(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Flex Template spec (metadata.json).")
    parser.add_argument("--output", help="File to write; standard output when not given.")
    args = parser.parse_args(argv)
    text = render()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
