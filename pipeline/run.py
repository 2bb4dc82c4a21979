"""Entry point: `python -m pipeline.run --metadata_csv=… --video_dir=… --output_dir=… [options]`.

Checks the configuration before any work (pipeline/preflight.py: a bad header or an
unavailable model stops the run with exit code 2 and a message that says how to fix
it), takes the output folder's lease, runs the job pipeline/graph.py builds (which
reads the metadata and the folders itself), shows one live progress line while a
local job runs, and prints the summary; a run that does not finish ends as
pipeline/failures.py says.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from typing import List, Optional

from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from pipeline import graph
from pipeline.failures import ending
from pipeline.logs import configure_logging, ctrl_c_noted
from pipeline.options import (GhslOptions, exit_on_unknown_arguments, exit_with_help, feature_config, landmark_config,
                              runs_locally)
from pipeline.preflight import ConfigError, Preflight, extraction_threads, preflight
from pipeline.process_exit import exit_now
from pipeline.progress_line import LiveProgress
from transforms.common import storage
from transforms.common.progress import LOG, LOG_FILE as PROGRESS_LOG, run_folder
from transforms.landmarks.native_logs import quiet_native_logs
from transforms.reports.run_reports import PROCESSED_CSV, SUMMARY_JSON, RunContext
from transforms.store import lease, metadata
from transforms.store.paths import proc_path
from transforms.store.reuse import fingerprints


def run(argv: Optional[List[str]] = None) -> dict:
    """Runs the job and returns run_summary.json's content (empty when the runner does not wait)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = PipelineOptions(argv)
    threads = extraction_threads(options, argv)
    opts = options.view_as(GhslOptions)
    checked = preflight(options)
    LOG.info("%d metadata rows from %s: %s", len(checked.rows), opts.metadata_csv, checked.describe())
    # The job reads the rows and lists the folder itself: what the checks read is let go before it runs.
    checked = checked._replace(rows=[], videos={})
    run_id = uuid.uuid4().hex
    dry_run = options.view_as(TestOptions).dry_run
    taken = None if dry_run else take_lease(opts, run_id, runs_locally(options))
    try:
        return _run(options, opts, checked, run_id, threads, taken)
    except BaseException:
        if taken is not None:
            lease.give_back(taken)
        raise


def take_lease(opts: GhslOptions, run_id: str, local: bool) -> lease.Taken:
    """No other run writes --output_dir meanwhile (transforms/store/lease.py); a killed run's temporary files go."""
    try:
        taken = lease.acquire(opts.output_dir, run_id, local=local, break_lease=opts.break_lease)
    except lease.LeaseHeld as exc:
        raise ConfigError(str(exc)) from exc
    except Exception as exc:  # no credentials, no permission, a bucket that does not exist…
        raise ConfigError(f"Cannot take the lease {lease.lease_path(opts.output_dir)} on --output_dir: {exc}. "
                          f"Check the path and that this account may write there.") from exc
    if storage.remove_temporary_files(opts.output_dir):
        LOG.info("Removed the temporary files a killed run left in %s.", opts.output_dir)
    return taken


def make_job(options: PipelineOptions, checked: Preflight, run_id: str, threads: int = 1,
             taken: Optional[lease.Taken] = None) -> graph.Job:
    """Everything the job needs besides the data it reads itself: the fingerprints, the reports' context,
    the release, the lease."""
    opts, started_at = options.view_as(GhslOptions), time.time()
    context = RunContext(
        output_dir=opts.output_dir,
        extra_columns=tuple(c for c in checked.header if c not in metadata.REQUIRED_COLUMNS),
        config={**graph.run_config(opts),
                "beam_options": options.get_all_options(drop_default=True, retain_unknown_options=False)},
        feature_options=feature_config(opts), started_at=started_at, prune_orphans=opts.prune_orphans)
    # With --augment_text the release waits for the text step, and the launcher gives the lease back.
    return graph.Job(context, fingerprints(landmark_config(opts), feature_config(opts)), tuple(checked.sheet_header),
                     None if opts.augment_text else checked.release, None if opts.augment_text else taken, run_id,
                     threads, log_each=not runs_locally(options))


def _run(options: PipelineOptions, opts: GhslOptions, checked: Preflight, run_id: str, threads: int,
         taken: Optional[lease.Taken]) -> dict:
    job = make_job(options, checked, run_id, threads, taken)
    if threads > 1:
        LOG.info("A video to decode is decoded in one of %d extraction processes", threads)
    local = runs_locally(options)
    # From here until this run writes it last, the outputs are being rewritten: no summary may vouch for them.
    if taken is not None:
        storage.delete_if_present(proc_path(opts.output_dir, SUMMARY_JSON))
    try:
        with LiveProgress(run_id, opts.verbose) if local else contextlib.nullcontext():
            result = graph.build(options, job).run()
            if not local and not opts.wait_for_job and not opts.augment_text:
                LOG.info("Submitted; the job writes %s when it finishes.", proc_path(opts.output_dir, SUMMARY_JSON))
                return {}
            # The text step reads the finished processed_metadata.csv, so with it even a detached run waits.
            result.wait_until_finish()
    finally:
        if local:
            publish_run_log(run_id, opts.output_dir)
        shutil.rmtree(run_folder(run_id), ignore_errors=True)
    summary = json.loads(storage.read_bytes(proc_path(opts.output_dir, SUMMARY_JSON)))
    summary["counters"] = _counters(result)
    summary["report"] = proc_path(opts.output_dir, "report.html")
    if opts.augment_text:
        summary.update(_text_and_release(options, opts, checked, taken))
    return summary


def publish_run_log(run_id: str, output_dir: str) -> None:
    """The workers' per-video lines, numbered, as OUT/proc/run_log.txt (a local job's: a remote one's are in
    its workers' logs), whether the job finished or not. Best effort: a log that cannot be written (a full
    disk) must not hide why the run stopped."""
    log = os.path.join(run_folder(run_id), PROGRESS_LOG)
    if not os.path.exists(log):
        return
    try:
        with open(log, "rb") as handle:
            storage.write_bytes(proc_path(output_dir, PROGRESS_LOG), handle.read())
    except Exception as exc:  # the run's own error, if any, is what the user must see
        LOG.warning("Could not write %s: %s", proc_path(output_dir, PROGRESS_LOG), exc)


def _text_and_release(options: PipelineOptions, opts: GhslOptions, checked: Preflight,
                      taken: Optional[lease.Taken]) -> dict:
    """--augment_text: the Gemini step on the finished CSV, then the release from the rewritten outputs."""
    from pipeline import augment_text
    from pipeline import release

    found = {"augment_text": augment_text.augment(proc_path(opts.output_dir, PROCESSED_CSV), options,
                                                  wait=bool(checked.release))}
    if checked.release:
        found["release"] = release.build_release(opts.output_dir, checked.release, options, taken)
    if taken is not None and found.get("release", {}).get("status") != release.SUBMITTED:
        lease.give_back(taken)  # a submitted release job gives it back as its last step
    return found


def _counters(result) -> dict:
    try:
        found = result.metrics().query()["counters"]
    except Exception:  # not every runner reports metrics
        return {}
    return {c.key.metric.name: c.committed for c in found if c.key.metric.namespace == "ghsl"}


def print_summary(summary: dict, output_dir: str) -> None:
    counts = summary["counts"]
    print()
    print(f"GhSL preprocessing: {summary['rows']} metadata rows in {summary['wall_seconds']:.1f}s")
    for status in ("success", "kept_low", "low_quality", "failed", "missing"):
        print(f"  {status:<12} {counts[status]:>5}")
    print(f"  videos decoded {summary['videos_decoded']} (changed {summary['videos_changed']}), "
          f"recomputed from stored landmarks {summary['videos_recomputed']}, reused {summary['videos_reused']}")
    print(f"  frames decoded {summary['frames_decoded']}, saved {summary['frames_saved']}")
    if summary["orphaned_outputs"]:
        print(f"  orphaned outputs {summary['orphaned_outputs']} (deleted {summary['orphans_deleted']}): "
              f"see {storage.join(output_dir, 'proc', 'orphaned_outputs.csv')}")
    print(f"  outputs: {storage.join(output_dir, 'landmarks')}")
    print(f"           {storage.join(output_dir, 'features', 'pose_data')}")
    print(f"           {storage.join(output_dir, 'proc')}")
    print(f"  report:  {summary['report']}")
    if "augment_text" in summary:
        counts = summary["augment_text"].get("counts", {})
        print("  text variations: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "submitted"))


# 128 + SIGINT: what a shell reports for a command Ctrl-C stopped, so scripts tell it from a failure.
def main(argv: Optional[List[str]] = None) -> int:
    exit_with_help(argv, "python -m pipeline.run", __doc__.splitlines()[0], [GhslOptions])
    exit_on_unknown_arguments(argv)
    configure_logging()
    quiet_native_logs()
    with ctrl_c_noted():
        try:
            summary = run(argv)
        except (Exception, KeyboardInterrupt) as exc:
            code, message = ending(exc, argv)
            print(message, file=sys.stderr)
            return code
    if summary:
        print_summary(summary, summary["config"]["output_dir"])
        if "release" in summary:
            from pipeline.release import describe
            from transforms.release.publish import REFUSED

            if summary["release"].get("status") == REFUSED:  # the features are done; the release is not
                print(f"error: the release was refused: {summary['release']['reason']}", file=sys.stderr)
                return 2
            print(f"  release: {describe(summary['release'])}")
    return 0


if __name__ == "__main__":
    exit_now(main())
