"""Every option of the GhSL preprocessing job, with its default and a line of help (`--help` shows both).

Defaults are written once: here, except the feature options, which each feature version
declares with its default and help (transforms/features/version.py; the numbers the specs
document) and are read from there.
"""
from __future__ import annotations

import argparse
import difflib
import math
import sys
from typing import List, Optional, Sequence, Type

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TypeOptions, _BeamArgumentParser

from transforms.common.safe_text import printable
from transforms.features import registry
from transforms.features.version import flag
from transforms.landmarks.holistic import LANDMARK_OPTIONS
from transforms.release import settings as release_settings

# LANDMARK_OPTIONS (transforms/landmarks/holistic.py) change a video's landmarks: a change
# decodes every video again. Recorded in run_summary.json and fingerprinted (with the
# MediaPipe version) in every result record.
# Feature options (each feature version's own, transforms/features/registry.py) change
# features or verdicts computed from stored landmarks: a change of an option the run's
# version reads recomputes them from the .pose files, and decodes no video.


class GhslOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        io = parser.add_argument_group("inputs and outputs (local paths or gs:// URIs)")
        io.add_argument("--metadata_csv", help="CSV or .xlsx with video_file, sentence_id, sentence, category; or a "
                                               "sentence table (no video_file column) whose videos are found "
                                               "under --video_dir by --video_name_pattern "
                                               "(docs/published-layout.md).")
        io.add_argument("--video_dir", help="Folder the metadata's video_file paths are relative to; for a sentence "
                                            "table, listed (subfolders included) for its videos.")
        io.add_argument("--output_dir", help="Where landmarks/, features/, proc/ and releases/ are written.")
        io.add_argument("--metadata_columns", default=None,
                        help="The metadata's own column names, ours=theirs separated by commas, quotes optional: "
                             "sentence_id=\"Sentence ID\",sentence=\"Sentence Text\",category=Category. Without "
                             "it the columns are ours, or SignTalk-GH's published headers (Sentence ID, Sentence "
                             "Text, Category), recognised as such.")
        io.add_argument("--video_name_pattern", default=r"(?P<sentence_id>\d+)(?P<take>[A-Z])",
                        help="For a sentence table: a regular expression that each video's file name, without "
                             "its folder and extension, must match whole; its group sentence_id pairs the video "
                             "with its sentence and every other named group becomes a column of the reports. "
                             "The default reads SignTalk-GH's 1000A.mp4 as sentence 1000, take A.")

        rerun = parser.add_argument_group("re-runs")
        rerun.add_argument("--reprocess", choices=("changed", "all"), default="changed",
                           help="changed: decode only new or changed videos, and all videos when an option "
                                "that changes features did; reuse the recorded results of the rest. "
                                "all: decode every video again.")
        rerun.add_argument("--prune_orphans", type=flag, nargs="?", const=True, default=False,
                           help="Delete the outputs no result of this run vouches for: videos no longer in "
                                "the metadata, missing, or failed with a possibly transient error (always "
                                "listed in proc/orphaned_outputs.csv).")
        rerun.add_argument("--max_missing_fraction", type=float, default=0.5,
                           help="Stop before any write when more than this fraction of the metadata's videos "
                                "are not under --video_dir (a wrong folder, say); 1 runs anyway.")
        rerun.add_argument("--wait_for_job", type=flag, nargs="?", const=True, default=False,
                           help="On a detached runner (Dataflow, a Flink or Spark job server), wait for the job to "
                                "finish and print its summary, instead of returning once it is submitted. A job "
                                "that runs in this process (DirectRunner, --job_endpoint=embed) is always waited "
                                "for.")
        rerun.add_argument("--verbose", type=flag, nargs="?", const=True, default=False,
                           help="Print a line per finished video as it finishes, besides proc/run_log.txt (which "
                                "always has them); without it a local run shows one live progress line.")
        rerun.add_argument("--break_lease", type=flag, nargs="?", const=True, default=False,
                           help="Take over --output_dir even though another run's lease (proc/.lease.json) says "
                                "it is running there; only when that run is known to be dead (a lease older than "
                                "24 h, or of a local run whose process has gone, is taken over anyway).")

        report = parser.add_argument_group("dataset report (proc/report.html)")
        report.add_argument("--preview_overlay", type=flag, nargs="?", const=True, default=False,
                            help="Draw the previews' landmarks on the video frames (needs --video_dir; "
                                 "re-runs MediaPipe on the previewed clips).")
        report.add_argument("--preview_samples", type=int, default=4,
                            help="Successful clips to preview (a stable sample).")
        report.add_argument("--max_previews", type=int, default=12,
                            help="At most this many low-quality clips get a preview.")

        rel = parser.add_argument_group("dataset release (OUT/releases/<id>/, see docs/release.md)")
        rel.add_argument("--release", type=flag, nargs="?", const=True, default=True,
                         help="At the end of pipeline.run (after --augment_text), build the dataset release of "
                              "the saved clips, unless the same release already exists.")
        rel.add_argument("--split_by", default="sentence_id",
                         help="Metadata column(s), comma-separated, whose values make a clip's group; no group is "
                              "in two splits (e.g. sentence_id, signer, or signer,take).")
        rel.add_argument("--split_ratios", default="0.8,0.1,0.1",
                         help="Shares of the groups for train, validation and test (three numbers summing to 1).")
        rel.add_argument("--split_seed", type=int, default=0,
                         help="Seed of the hash that places each group in a split; a group's split depends only "
                              "on its key and this seed.")
        rel.add_argument("--split_file", default=None,
                         help="CSV pinning groups to splits: a split column and a group column (a release's "
                              "splits.csv) or the --split_by columns; other groups follow the rule.")
        rel.add_argument("--release_dtype", choices=release_settings.DTYPES, default="float32",
                         help="Type of the feature arrays in the Parquet shards (float16 halves them).")
        rel.add_argument("--release_shard_mb", type=float, default=256.0,
                         help="Size of one Parquet shard's feature arrays, in MB (a shard goes over it by at most "
                              "one clip).")
        rel.add_argument("--release_license", default="",
                         help="Licence of the release, an SPDX id (CC-BY-4.0) or a URL, stated in its card and "
                              "croissant.json; empty: both say it is not set (the source videos' licence applies).")
        rel.add_argument("--release_citation", default="",
                         help="How to cite the release (BibTeX or a sentence), stated in its card and "
                              "croissant.json; empty: both say it is not set.")
        rel.add_argument("--drop_duplicates", type=flag, nargs="?", const=True, default=False,
                         help="Keep one clip of each family of copies the duplicate audit found (exact copies and "
                              "near copies at or above its threshold, docs/duplicates.md): the earliest by "
                              "video_file; the card lists the others. Off: every copy is released, each family in "
                              "one split.")
        rel.add_argument("--heldout_by", default="",
                         help="Metadata column whose values (signers, say) are held out of training, for the "
                              "unseen-signer test splits test_unseen_signers and test_unseen_both; empty: one axis "
                              "(docs/release.md, Evaluation conditions).")
        rel.add_argument("--heldout_size", default="0.2",
                         help="With --heldout_by: how many of its values are held out, a count (2) or a share "
                              "(0.2: round(share x values), at least one, never all).")
        rel.add_argument("--heldout_fold", default="",
                         help="With --heldout_by: hold out exactly value i of the documented order instead "
                              "(leave-one-out fold i; pipeline.release --heldout_folds builds them all).")
        rel.add_argument("--heldout_folds", type=flag, nargs="?", const=True, default=False,
                         help="pipeline.release only: build the k leave-one-out releases of --heldout_by in one job, "
                              "fold i holding out value i of the documented order; releases/folds.json lists them.")

        text = parser.add_argument_group("text")
        text.add_argument("--augment_text", type=flag, nargs="?", const=True, default=False,
                          help="After the job, add Gemini sentence variations to processed_metadata.csv "
                               "(the options of pipeline.augment_text apply).")

        io = parser.add_argument_group("sentence variations (pipeline.augment_text; local paths or gs:// URIs)")
        io.add_argument("--input_csv", help="processed_metadata.csv of a preprocessing run (needs sentence_id, "
                                            "sentence).")
        io.add_argument("--output_csv", default=None,
                        help="Where the CSV with text_variations goes; default: --input_csv itself, rewritten "
                             "in one step.")
        io.add_argument("--cache", default=None,
                        help="Variations cache; default: sentence_variations.json next to --input_csv.")

        g = parser.add_argument_group("Gemini")
        g.add_argument("--model", default="gemini-2.5-flash", help="Gemini model that writes the variations.")
        g.add_argument("--variations", type=int, default=5, help="Rephrasings per sentence (the original is "
                                                                  "added first).")
        g.add_argument("--sentences_per_request", type=int, default=10,
                       help="Sentences asked about in one Gemini request.")
        g.add_argument("--requests_per_minute", type=int, default=60,
                       help="Limit on sends (retries and key rotations included) for the whole job.")
        g.add_argument("--request_timeout_s", type=float, default=120.0,
                       help="A request without an answer by then fails and is retried like a 5xx.")
        g.add_argument("--max_retries", type=int, default=5,
                       help="Retries with backoff after 429 (on every key), 5xx or timeout.")
        g.add_argument("--vertex_project", default=None,
                       help="Use Vertex AI in this project with the job's own credentials instead of API keys.")
        g.add_argument("--vertex_location", default="us-central1", help="Vertex AI region, with --vertex_project.")
        g.add_argument("--api_key_secret", default=None,
                       help="Secret Manager version holding the key(s), k1,k2 "
                            "(projects/P/secrets/S/versions/latest); needed on remote runners, whose workers "
                            "do not see this shell's GEMINI_API_KEYS.")

        mp = parser.add_argument_group("MediaPipe Holistic")
        mp.add_argument("--model_complexity", type=int, default=2, choices=(0, 1, 2),
                        help="Pose model: 0 lite, 1 full (ships with mediapipe), 2 heavy (production; "
                             "needs the heavy model installed, see README).")
        mp.add_argument("--min_detection_confidence", type=float, default=0.5,
                        help="Holistic's minimum confidence for a person, face or hand to count as detected.")
        mp.add_argument("--min_tracking_confidence", type=float, default=0.5,
                        help="Holistic's minimum confidence to keep tracking a landmark from the previous frame "
                             "instead of detecting it again.")
        mp.add_argument("--refine_face_landmarks", type=flag, nargs="?", const=True, default=False,
                        help="Holistic's refined face mesh: 478 face points (iris included) in the .pose files "
                             "instead of 468; features use the first 468 either way.")
        mp.add_argument("--smooth_landmarks", type=flag, nargs="?", const=True, default=True,
                        help="Holistic's own smoothing of landmarks across frames (its default, and v1's).")

        q = parser.add_argument_group("features and quality rules (computed from the stored landmarks)")
        q.add_argument("--feature_version", type=_feature_version, default=registry.DEFAULT,
                       metavar="{" + ",".join(registry.names()) + ",package.module:NAME}", help=registry.help_text())
        for option in registry.all_options():
            if option.type is flag:
                q.add_argument(f"--{option.name}", type=flag, nargs="?", const=True, default=option.default,
                               help=option.help)
            else:
                q.add_argument(f"--{option.name}", type=option.type, default=option.default, help=option.help)


def _feature_version(text: str) -> str:
    try:
        return registry.checked_name(text)
    except registry.UnknownVersion as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


REQUIRED = {"--metadata_csv", "--video_dir", "--output_dir"}  # by pipeline.run; the others need fewer
DIRECT_RUNNERS = {None, "DirectRunner", "direct", "SwitchingDirectRunner", "BundleBasedDirectRunner"}
# Runners that start their job service (or the job itself) inside the launcher's process when no remote one
# is named: the job dies with the process, so the launcher must wait for it.
EMBEDDING_RUNNERS = {"PortableRunner", "portable", "PrismRunner", "prism", "FlinkRunner", "flink",
                     "SparkRunner", "spark"}
_EMBEDDED_ENDPOINTS = (None, "", "embed")
_EMBEDDED_MASTERS = (None, "", "[auto]", "[local]")


def runs_locally(options: PipelineOptions) -> bool:
    """The job runs in this process: the DirectRunner, or a portable runner with an embedded job service
    (--runner=PortableRunner --job_endpoint=embed; LOOPBACK workers then run here too). Local checks (the
    pose model), a local lease and a live progress line make sense, and the launcher always waits.

    Every other launch is detached: the job runs elsewhere (Dataflow; a Flink or Spark job server named by
    --job_endpoint, --flink_master or --spark_master_url) and outlives the launcher."""
    runner = options.view_as(StandardOptions).runner
    if runner in DIRECT_RUNNERS:
        return True
    if runner not in EMBEDDING_RUNNERS:
        return False
    named = options.get_all_options(retain_unknown_options=True)
    return (named.get("job_endpoint") in _EMBEDDED_ENDPOINTS
            and named.get("flink_master") in _EMBEDDED_MASTERS
            and str(named.get("spark_master_url") or "local").startswith("local"))


def without_type_check(options: PipelineOptions) -> PipelineOptions:
    """The options a job is built with: Beam's construction-time type check off, each view made once
    (_ViewsOnce).

    Our steps pass plain Python values, pickled whatever their declared types, so the
    check has nothing to verify; inspecting every step's signature for it took about a
    fifth of a one-video run's fixed cost.
    """
    options.view_as(TypeOptions).pipeline_type_check = False
    return options.view_as(_ViewsOnce)


class _ViewsOnce(PipelineOptions):
    """The options as a job's Pipeline holds them: each view (TypeOptions, StandardOptions, …) made once.

    Beam asks the pipeline's options for a view at every transform it applies, and each
    view parses every flag again with argparse: about 400 parses, 0.2 s of a one-video
    run. A view is a window on the one dict of values (setting an option through any view
    sets it for all), so one view per class serves every asker alike. It adds no option.
    """

    def view_as(self, cls):
        views = self.__dict__.get("_views")
        if views is None:
            views = {}
            object.__setattr__(self, "_views", views)  # PipelineOptions.__setattr__ refuses new names
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self):
        # Pickled (a runner may ship the options) without the views: they are made again on demand.
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state


def batch_runner(options: PipelineOptions):
    """For the DirectRunner, the FnApiRunner it would pick for this batch job; else None (the option's runner).

    The DirectRunner first walks and translates the whole graph to choose between its
    runners, which costs about 0.2 s of every local run; the job is batch, so the
    choice is known. --direct_running_mode and --direct_num_workers apply as before.
    """
    if options.view_as(StandardOptions).runner not in (None, "DirectRunner", "direct"):
        return None  # the runner the options name
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


def option_problems(opts: GhslOptions) -> list:
    """Configuration mistakes, each with how to fix it; empty when the options are usable."""
    problems = []
    for name in ("metadata_csv", "video_dir", "output_dir"):
        if not getattr(opts, name):
            problems.append(f"--{name} is required.")
    problems += non_finite_numbers(opts)
    for name in ("min_detection_confidence", "min_tracking_confidence"):
        if not 0.0 <= getattr(opts, name) <= 1.0:
            problems.append(f"--{name} must be between 0 and 1.")
    if not 0.0 <= opts.max_missing_fraction <= 1.0:
        problems.append("--max_missing_fraction must be between 0 and 1 (1 turns the check off).")
    for name in ("preview_samples", "max_previews"):
        if getattr(opts, name) < 0:
            problems.append(f"--{name}={getattr(opts, name)}: give 0 (none) or more.")
    values = {option.name: getattr(opts, option.name) for option in registry.all_options()}
    return problems + registry.option_problems(opts.feature_version, values)


def non_finite_numbers(opts: GhslOptions) -> List[str]:
    """Every number option of ours given as nan or inf (which Python's float() accepts): refused where it enters.

    NaN passes no comparison, so a range check alone lets it through, and it would reach the job (an
    --release_shard_mb of inf or nan crashed while the shards were written) or be written into
    run_summary.json as a bare NaN, which strict JSON readers refuse. The feature options' own check
    (version.Option.problem) says the same for them."""
    features = {option.name for option in registry.all_options()}
    parser = argparse.ArgumentParser(add_help=False)
    GhslOptions._add_argparse_args(parser)
    problems = []
    for action in parser._actions:
        name = action.dest
        if action.type is not float or name in features:
            continue
        value = getattr(opts, name, None)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"--{name}={value} is not a number: give a finite number (default: {action.default}).")
    return problems


def landmark_config(opts: GhslOptions) -> dict:
    return {name: getattr(opts, name) for name in LANDMARK_OPTIONS}


def feature_config(opts: GhslOptions) -> dict:
    """The chosen feature version and its options: what the feature fingerprint hashes."""
    names = registry.get(opts.feature_version).option_names()
    return {"feature_version": opts.feature_version, **{name: getattr(opts, name) for name in names}}


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, as the job would use it ("none": not set; "empty": "")."""

    def _get_help_string(self, action):
        text = action.help or ""
        if set(action.option_strings) & REQUIRED:
            return text + " (required)"
        if action.option_strings and action.default is not argparse.SUPPRESS and "%(default)" not in text:
            shown = {None: "none", "": "empty"}.get(action.default, None) if action.default in (None, "") else None
            text += f" (default: {shown})" if shown else " (default: %(default)s)"
        return text


def exit_with_help(argv: Optional[List[str]], prog: str, description: str,
                   option_classes: Sequence[Type[PipelineOptions]]) -> None:
    """Print our options' help and exit when asked for it.

    Beam's PipelineOptions answers --help with an empty parser of its own, so
    entry points call this before building their options. It first imports a feature
    version named by import path (--feature_version=package.module:NAME), so that its
    options are options of this run too.
    """
    registry.load_named_in(sys.argv[1:] if argv is None else argv)
    if not any(a in ("-h", "--help") for a in (sys.argv[1:] if argv is None else argv)):
        return
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=_HelpWithDefaults,
        epilog="Any Apache Beam pipeline option is accepted too (--runner, --direct_num_workers, "
               "--direct_running_mode, --project, --region, --temp_location, ...).")
    for cls in option_classes:
        cls._add_argparse_args(parser)
    parser.print_help()
    sys.exit(0)


def unknown_arguments(argv: Sequence[str]) -> List[str]:
    """The arguments no option accepts, ours or Beam's, as Beam itself would discard them.

    Same parser as PipelineOptions.get_all_options: every PipelineOptions subclass,
    no abbreviations (--min_frame is not taken for --min_frames). The value of an
    unknown `--name value` pair is not listed separately.
    """
    _, unknown = _every_option_parser().parse_known_args(list(argv))
    found = []
    for i, arg in enumerate(unknown):
        value_of_previous = (not arg.startswith("-") and i > 0 and unknown[i - 1].startswith("--")
                             and "=" not in unknown[i - 1])
        if not value_of_previous:
            found.append(arg)
    return found


def _every_option_parser() -> argparse.ArgumentParser:
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    return parser


def exit_on_unknown_arguments(argv: Optional[Sequence[str]]) -> None:
    """Stop with exit code 2, before any work, when an argument is not an option (or --feature_version
    names no feature version).

    Beam only logs such arguments and runs on the defaults: on Dataflow, hours of
    workers producing the wrong dataset because of one typo.
    """
    argv = sys.argv[1:] if argv is None else argv
    version = registry.named_in(argv)
    if version:
        try:
            registry.get(version)
        except registry.UnknownVersion as exc:
            print(f"error: {exc}", file=sys.stderr)
            print("Nothing was run. Run with --help for every option.", file=sys.stderr)
            sys.exit(2)
    unknown = unknown_arguments(argv)
    if not unknown:
        return
    names = [name for action in _every_option_parser()._actions for name in action.option_strings
             if name.startswith("--")]
    for arg in unknown:
        if arg.startswith("--"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], names, n=1)
            hint = f"did you mean {close[0]}?" if close else "no option has a similar name"
            print(f"error: unknown option {printable(arg)} ({hint})", file=sys.stderr)
        else:
            print(f"error: unexpected argument {arg!r}: options are written --name=value", file=sys.stderr)
    print("Nothing was run. Run with --help for every option.", file=sys.stderr)
    sys.exit(2)
