"""Entry point: `python -m pipeline.release --output_dir=OUT [--split_by=… --split_ratios=… --split_file=… …] [Beam options]`.

Builds the dataset release of a finished run from its outputs alone
(OUT/proc/, the records and the .npy files; local paths or gs:// URIs, on the
DirectRunner or Dataflow), under OUT/releases/<release id>/ (docs/release.md).
When the same inputs and options were released already, nothing is written and
no pipeline starts. The job is pipeline/graph.py's `build_release`;
pipeline.run ends with the same steps inside its own job.
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Dict, List, Optional, Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, TestOptions

from pipeline.logs import configure_logging
from pipeline.process_exit import exit_now
from pipeline.options import GhslOptions, exit_on_unknown_arguments, exit_with_help, runs_locally
from transforms.common import storage
from transforms.common.progress import LOG
from transforms.common.safe_text import printable
from transforms.release import layout, publish, verify
from transforms.release.inputs import NothingToRelease, ReleaseError, read_outputs, require_saved_clips
from transforms.release.plan import EXISTS, REPAIR, check_columns, check_heldout, plan_release, read_split_file
from transforms.release.splits import blank_values, blank_words, heldout_order
from transforms.release.schema import ADDED
from transforms.release.settings import (ReleaseSettings, SettingsError, column_problems, from_options,
                                        heldout_column_problems)
from transforms.store import lease

SUBMITTED = "submitted"  # a remote job was started; its outcome is in its log


class ReleaseConfigError(Exception):
    """The release cannot be built as asked; the message says how to fix it."""


def release_settings(opts: GhslOptions, metadata_columns: Sequence[str],
                     heldout_values: Optional[Sequence[str]] = None) -> ReleaseSettings:
    """The release options, checked against the metadata's columns, the values of its held-out column and the
    split file, before any work."""
    try:
        settings = from_options(opts)
    except SettingsError as exc:
        raise ReleaseConfigError(str(exc)) from exc
    problems = column_problems(settings.split_by, metadata_columns, reserved=ADDED)
    problems += heldout_column_problems(settings.heldout_by, metadata_columns)
    if problems:
        raise ReleaseConfigError(" ".join(problems))
    try:
        pins = read_split_file(settings)
        if heldout_values is not None:
            check_heldout(settings, heldout_values, pins)
    except ReleaseError as exc:
        raise ReleaseConfigError(str(exc)) from exc
    return settings


def build_folds(output_dir: str, settings: ReleaseSettings, options: PipelineOptions,
                taken: Optional[lease.Taken] = None) -> Dict[str, object]:
    """The k leave-one-out releases of the held-out column (--heldout_folds) in one job; their outcome.

    Planned here first: when every fold's release exists, no job starts (folds.json is written here).
    """
    from pipeline import graph

    outputs = read_outputs(output_dir, audit=True)
    order = heldout_order([r.row.extra.get(settings.heldout_by, "") for r in outputs.saved], settings.seed)
    plans = [plan_release(outputs, settings.fold(i)) for i in range(len(order))]
    if all(plan.status == EXISTS for plan in plans):
        folds = publish.write_folds(output_dir, settings.heldout_by,
                                    [(i, v, publish.outcome(p, publish.UNCHANGED)) for i, (v, p) in
                                     enumerate(zip(order, plans))])
        return {"status": publish.UNCHANGED, "folds": folds["folds"]}
    detached = not runs_locally(options)  # the job gives the lease back as its last step
    result = graph.build_release(options, output_dir, settings, taken if detached else None, folds=order).run()
    if detached and not options.view_as(GhslOptions).wait_for_job:
        return {"status": SUBMITTED, "folds": [{"fold": i, "heldout": v, "release_id": p.release_id}
                                               for i, (v, p) in enumerate(zip(order, plans))]}
    result.wait_until_finish()
    return {"status": publish.BUILT,
            "folds": json.loads(storage.read_bytes(storage.join(layout.releases_dir(output_dir), layout.FOLDS)))["folds"]}


def build_release(output_dir: str, settings: ReleaseSettings, options: PipelineOptions,
                  taken: Optional[lease.Taken] = None) -> Dict[str, object]:
    """Builds the release of the finished outputs in a job of its own; returns its outcome.

    Planned here first: an unchanged release starts no job, and with no saved clip
    nothing is done (status skipped). Raises ReleaseError when the outputs cannot be
    released. taken: the lease, which a remote job gives back as its last step; a local
    one is given back by the caller.
    """
    from pipeline import graph  # Beam and the release's steps: only when a release is built

    outputs = read_outputs(output_dir, audit=True)
    try:
        plan = plan_release(outputs, settings)
    except NothingToRelease as exc:
        LOG.warning("No release: %s", exc)
        return publish.outcome(None, publish.SKIPPED, str(exc))
    if plan.status == EXISTS:
        publish.settle_existing(output_dir, plan)
        publish.point_latest(output_dir, plan, plan.latest)
        return publish.outcome(plan, publish.UNCHANGED)
    detached = not runs_locally(options)  # the job gives the lease back as its last step
    result = graph.build_release(options, output_dir, settings, taken if detached else None).run()
    if detached and not options.view_as(GhslOptions).wait_for_job:
        return publish.outcome(plan, SUBMITTED)
    result.wait_until_finish()
    # The job planned again and built, repaired or refused; what the folder holds now says which.
    folder = layout.release_dir(output_dir, plan.release_id)
    after = verify.check_release(output_dir, plan.release_id)
    if after.state != verify.INTACT:
        note = storage.read_if_present(storage.join(folder, layout.REFUSED))
        raise ReleaseError(note.decode("utf-8").strip() if note else
                           f"Release {plan.release_id} is not complete: {after.describe(folder)}")
    return publish.outcome(plan, publish.REPAIRED if plan.status == REPAIR else publish.BUILT)


def describe(outcome: Dict[str, object]) -> str:
    if "folds" in outcome:
        return f"{len(outcome['folds'])} folds ({outcome['status']}): " + "; ".join(
            f"fold {f['fold']} holds out {f['heldout']!r}: {f['release_id']}" for f in outcome["folds"])
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
        require_saved_clips(outputs)
        check_columns(outputs, settings)
        pins = read_split_file(settings)
        if settings.heldout_by:
            check_heldout(settings, [r.row.extra.get(settings.heldout_by, "") for r in outputs.saved], pins)
    except (SettingsError, ReleaseError) as exc:
        raise ReleaseConfigError(str(exc)) from exc
    log_blank_values(settings, [outputs.processed_text(r) for r in outputs.saved])
    return settings


def log_blank_values(settings: ReleaseSettings, rows: Sequence[Dict[str, str]], what: str = "saved clip(s)") -> None:
    """What the splits do with blank --split_by and --heldout_by values, in the log (the card says it too)."""
    columns = list(settings.split_by) + ([settings.heldout_by] if settings.heldout_by else [])
    words = blank_words(blank_values(rows, columns), settings.split_by, settings.heldout_by, what=what)
    if words:
        LOG.warning("Blank values: %s", " ".join(words))


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
    outcome: Dict[str, object] = {}
    try:
        if not opts.output_dir:
            raise ReleaseConfigError("--output_dir is required: the folder a pipeline.run wrote features/ and "
                                     "proc/ into.")
        if storage.is_local(opts.output_dir):
            opts.output_dir = os.path.abspath(opts.output_dir)
        settings = _check_outputs(opts)
        if opts.heldout_folds and (settings.heldout_by is None or settings.heldout_fold is not None):
            raise ReleaseConfigError("--heldout_folds builds the leave-one-out folds of --heldout_by: give "
                                     "--heldout_by=<column>, and no --heldout_fold (each fold sets its own).")
        # A dry run writes nothing, and its job never runs to give a lease back.
        taken = None
        if not options.view_as(TestOptions).dry_run:
            try:
                taken = lease.acquire(opts.output_dir, run_id, local=runs_locally(options),
                                      break_lease=opts.break_lease)
            except lease.LeaseHeld as exc:
                raise ReleaseConfigError(str(exc)) from exc
        try:
            build = build_folds if opts.heldout_folds else build_release
            outcome = build(opts.output_dir, settings, options, taken)
        except ReleaseError as exc:  # NothingToRelease included
            raise ReleaseConfigError(str(exc)) from exc
        finally:
            if taken is not None and outcome.get("status") != SUBMITTED:  # a submitted job gives it back itself
                lease.give_back(taken)
    except ReleaseConfigError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    print(f"Release: {describe(outcome)}")
    return 0


if __name__ == "__main__":
    exit_now(main())
