"""The feature versions a run can choose with --feature_version, by name.

A name is a built-in version's (BUILT_IN: v1, the team's definition and the
default; v2) or an import path, `package.module:NAME`, of a FeatureVersion
instance (transforms/features/version.py) defined outside this project. An
import path is what the run's feature options, records and feature_schema.json
carry, so a Beam worker or a standalone pipeline.release finds the same version
by importing it; its module must be installed where they run.

Every consumer asks here: `of(feature_options)` is the run's version; the
options every version reads (`all_options`) become the command-line options.
"""
from __future__ import annotations

import importlib
from typing import Dict, List, Optional, Sequence, Tuple

from transforms.features.version import FeatureVersion, Option

# name → import path of its FeatureVersion. Registering a version here is one line.
BUILT_IN = {
    "v1": "transforms.features.v1:VERSION",
    "v2": "transforms.features.v2:VERSION",
}
DEFAULT = "v1"
FLAG = "--feature_version"

_loaded: Dict[str, FeatureVersion] = {}


class UnknownVersion(ValueError):
    """A --feature_version that names no version; the message says which exist."""


def names() -> Tuple[str, ...]:
    return tuple(BUILT_IN)


def get(name: str) -> FeatureVersion:
    """The version called `name` (a built-in name or an import path); UnknownVersion when there is none."""
    found = _loaded.get(name)
    if found is None:
        found = _loaded[name] = _import(BUILT_IN.get(name, name), name)
    return found


def of(feature_options: Dict[str, object]) -> FeatureVersion:
    """The version of a run's feature options (pipeline.options.feature_config)."""
    return get(str(feature_options["feature_version"]))


def _import(path: str, name: str) -> FeatureVersion:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise UnknownVersion(f"--feature_version={name} is not a feature version: give one of "
                             f"{', '.join(BUILT_IN)}, or the import path of your own, package.module:NAME "
                             f"(docs/features.md, Adding a feature version).")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UnknownVersion(f"--feature_version={name}: cannot import {path} ({type(exc).__name__}: {exc}). "
                             f"Check the path, and that its module is installed where the job runs.") from None
    if not isinstance(found, FeatureVersion):
        raise UnknownVersion(f"--feature_version={name}: {path} is a {type(found).__name__}, not a FeatureVersion "
                             f"instance (transforms/features/version.py).")
    return found


def checked_name(text: str) -> str:
    """argparse type of --feature_version: the name as given, once it is known to name a version."""
    get(text)
    return text


def named_in(argv: Optional[Sequence[str]]) -> Optional[str]:
    """The value of --feature_version in command-line arguments, if any (its last occurrence)."""
    found = None
    argv = list(argv or ())
    for i, arg in enumerate(argv):
        if arg.startswith(FLAG + "="):
            found = arg[len(FLAG) + 1:]
        elif arg == FLAG and i + 1 < len(argv):
            found = argv[i + 1]
    return found


def load_named_in(argv: Optional[Sequence[str]]) -> None:
    """Import the version an import path names on the command line before the options are parsed, so
    that its options are options too. A name that imports nothing is left for the parser to refuse."""
    name = named_in(argv)
    if name and name not in BUILT_IN:
        try:
            get(name)
        except UnknownVersion:
            pass


def versions() -> List[FeatureVersion]:
    """The built-in versions, then those loaded by import path, in that order."""
    for name in BUILT_IN:
        get(name)
    return list({id(v): v for v in _loaded.values()}.values())


def all_options() -> List[Option]:
    """Every option of every version, each once, in the order they are first declared.

    Versions that share an option share its declaration (one default, one line of help); two
    declarations of one name that differ are a mistake in a version's module.
    """
    found: Dict[str, Option] = {}
    for version in versions():
        for option in version.options:
            earlier = found.setdefault(option.name, option)
            if earlier != option:
                raise ValueError(f"Feature versions declare --{option.name} twice, differently ({earlier} and "
                                 f"{option}): share one declaration.")
    return list(found.values())


def declared(name: str) -> Option:
    """The declaration of an option a version shares with the built-in ones (one default, one line of help)."""
    found = {o.name: o for o in all_options()}
    if name not in found:
        raise KeyError(f"no feature version declares --{name}")
    return found[name]


def option_problems(version_name: str, values: Dict[str, object]) -> List[str]:
    """Mistakes in the feature options: values out of their bounds, options the chosen version would ignore,
    then what the chosen version says."""
    problems = [p for o in all_options() if o.name in values for p in [o.problem(values[o.name])] if p]
    return problems + ignored_options(version_name, values) + get(version_name).option_problems(values)


def ignored_options(version_name: str, values: Dict[str, object]) -> List[str]:
    """An option set away from its default that the chosen version does not read, for every such option alike.

    It would change nothing (neither the features nor the fingerprint), silently: --min_hand_ratio on a v1
    run looks like a stricter rule and is none. A value equal to the default is no mistake (a scheduler
    may pass every parameter)."""
    chosen = get(version_name)
    read = {o.name for o in chosen.options}
    problems = []
    for option in all_options():
        if option.name in read or option.name not in values or values[option.name] == option.default:
            continue
        readers = [v.name for v in versions() if option.name in {o.name for o in v.options}]
        problems.append(f"--{option.name} needs --feature_version={' or '.join(readers)}: {version_name} does not "
                        f"read it, so it would be ignored. Add --feature_version={readers[0]}, or drop "
                        f"--{option.name}.")
    return problems


def help_text() -> str:
    """--feature_version's help: each built-in version in a line, and how to name another."""
    return (" ".join(f"{v.name}: {v.help}" for v in (get(n) for n in BUILT_IN))
            + " Or a version of your own by import path, package.module:NAME (docs/features.md).")

