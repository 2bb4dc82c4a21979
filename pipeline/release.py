"""Entry point: `python -m pipeline.release --output_dir=OUT [--split_by=… --split_ratios=… --split_file=… …] [Beam options]`.

Builds the dataset release of a finished run from its outputs alone
(OUT/proc/, the records and the .npy files; local paths or gs:// URIs, on the
DirectRunner or Dataflow), under OUT/releases/<release id>/ (docs/release.md).
When the same inputs and options were released already, nothing is written and
no pipeline starts. pipeline.run adds the same steps after its report with
`add_release`, or calls `build_release` after --augment_text.
"""
from __future__ import annotations

import os
import sys
import uuid
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, TestOptions

from pipeline.logs import configure_logging
from transforms.common.progress import LOG
from pipeline.options import GhslOptions, batch_runner, exit_on_unknown_arguments, exit_with_help, runs_locally
from transforms.release import layout, publish
from transforms.common import handoff
from transforms.release.build import RELEASE_OUTCOME, BuildRelease
from transforms.release.inputs import NothingToRelease, ReleaseError, read_outputs, require_saved_clips
from transforms.release.plan import EXISTS, check_columns, plan_release, read_split_file
from transforms.release.schema import ADDED
from transforms.release.settings import ReleaseSettings, SettingsError, column_problems, from_options
from transforms.store import lease, storage


SUBMITTED = "submitted"  # a remote job was started; its outcome is in its log


class ReleaseConfigError(Exception):
    """The release cannot be built as asked; the message says how to fix it."""


def release_settings(opts: GhslOptions, metadata_columns: Sequence[str]) -> ReleaseSettings:
    """The release options, checked against the metadata's columns and the split file, before any work."""
    try:
        settings = from_options(opts)
    except SettingsError as exc:
        raise ReleaseConfigError(str(exc)) from exc
    problems = column_problems(settings.split_by, metadata_columns, reserved=ADDED)
    if problems:
        raise ReleaseConfigError(" ".join(problems))
    try:
        read_split_file(settings)
    except ReleaseError as exc:
        raise ReleaseConfigError(str(exc)) from exc
    return settings


def add_release(ready: beam.PCollection, output_dir: str, settings: ReleaseSettings, run_id: str,
                summaries: Optional[beam.PCollection] = None) -> beam.PCollection:
    """Adds the release after `ready` (any one element, once the reports are written); returns its outcome.

    summaries: the main job's WriteReports output, so its reports are not read back.
    """
    return ready | "Build the release" >> BuildRelease(output_dir, settings, run_id, summaries)


def build_release(output_dir: str, settings: ReleaseSettings, run_id: str,
                  pipeline_options: Optional[PipelineOptions] = None) -> Dict[str, object]:
    """Builds the release in a pipeline of its own, once the outputs are final; returns its outcome.

    Planned here first: an unchanged release starts no pipeline, and with no
    saved clip nothing is done (status skipped). Raises ReleaseError when the
    outputs cannot be released. Without pipeline_options it runs in this process.
    """
    try:
        plan = plan_release(output_dir, settings)
    except NothingToRelease as exc:
        LOG.warning("No release: %s", exc)
        return publish.outcome(None, output_dir, publish.SKIPPED, str(exc))
    if plan.status == EXISTS:
        publish.point_latest(output_dir, plan)
        return publish.outcome(plan, output_dir, publish.UNCHANGED)
    if pipeline_options is None:
        pipeline_options = PipelineOptions()
        pipeline_options.view_as(DirectOptions).direct_running_mode = "in_memory"
    pipeline = beam.Pipeline(runner=batch_runner(pipeline_options), options=pipeline_options)
    done = add_release(pipeline | "Outputs are final" >> beam.Create([None]), output_dir, settings, run_id)
    if not runs_locally(pipeline_options):
        # The job outlives this process, so it frees the output folder itself as its last step.
        done | "Release output folder" >> beam.Map(lambda _, out: lease.release(out, run_id), output_dir)
    result = pipeline.run()
    if not runs_locally(pipeline_options):
        return publish.outcome(plan, output_dir, SUBMITTED)
    result.wait_until_finish()
    return publish.outcome(plan, output_dir, publish.BUILT)


def job_outcome(output_dir: str, counters: Dict[str, int], run_id: Optional[str] = None) -> Dict[str, object]:
    """The outcome of the release steps inside a finished local job.

    As the job's last step handed it to this process, else from its counters and latest.json.
    """
    handed = handoff.take(run_id, RELEASE_OUTCOME)
    if handed is not None:
        return handed
    status = next((s for s in (publish.BUILT, publish.UNCHANGED, publish.SKIPPED) if counters.get(f"releases_{s}")),
                  None)
    if status in (None, publish.SKIPPED):
        return {"status": status or "not run"}
    latest = layout.read_latest(output_dir) or {}
    return {"status": status, **latest}


def describe(outcome: Dict[str, object]) -> str:
    if outcome.get("status") == publish.SKIPPED:
        return f"skipped ({outcome.get('reason', 'no saved clip')})"
    if "release_id" not in outcome:
        return str(outcome.get("status"))
    clips = ", ".join(f"{s} {n}" for s, n in outcome.get("clips", {}).items())
    return f"{outcome['release_id']} ({outcome['status']}; {clips} clips) {outcome['path']}"


def _check_outputs(opts: GhslOptions) -> ReleaseSettings:
    """Read-only checks, before the lease is taken: the options, and outputs with saved clips to release."""
    try:
        settings = from_options(opts)
        outputs = read_outputs(opts.output_dir)
        require_saved_clips(outputs, opts.output_dir)
        check_columns(outputs, settings)
        read_split_file(settings)
    except (SettingsError, ReleaseError) as exc:
        raise ReleaseConfigError(str(exc)) from exc
    return settings


def _take_lease(options: PipelineOptions, run_id: str) -> bool:
    """No pipeline.run rewrites the outputs while they are released (transforms/store/lease.py).

    False for a dry run: it writes nothing, and its job never runs to free a lease.
    """
    if options.view_as(TestOptions).dry_run:
        return False
    opts = options.view_as(GhslOptions)
    try:
        lease.acquire(opts.output_dir, run_id, local=runs_locally(options), break_lease=opts.break_lease)
    except lease.LeaseHeld as exc:
        raise ReleaseConfigError(str(exc)) from exc
    return True


def main(argv: Optional[List[str]] = None) -> int:
    exit_with_help(argv, "python -m pipeline.release", __doc__.splitlines()[0], [GhslOptions])
    exit_on_unknown_arguments(argv)
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    options = PipelineOptions(argv)
    if not any(a.startswith("--direct_running_mode") for a in argv):
        options.view_as(DirectOptions).direct_running_mode = "in_memory"
    opts = options.view_as(GhslOptions)
    run_id = uuid.uuid4().hex
    try:
        if not opts.output_dir:
            raise ReleaseConfigError("--output_dir is required: the folder a pipeline.run wrote features/ and "
                                     "proc/ into.")
        if storage.is_local(opts.output_dir):
            opts.output_dir = os.path.abspath(opts.output_dir)  # latest.json and the log name the folder in full
        settings = _check_outputs(opts)
        leased = _take_lease(options, run_id)
        outcome = {}
        try:
            outcome = build_release(opts.output_dir, settings, run_id, options)
        except ReleaseError as exc:  # NothingToRelease included
            raise ReleaseConfigError(str(exc)) from exc
        finally:
            if leased and outcome.get("status") != SUBMITTED:  # a submitted job frees it as its last step
                lease.release(opts.output_dir, run_id)
    except ReleaseConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Release: {describe(outcome)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
