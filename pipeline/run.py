"""Entry point: `python -m pipeline.run --metadata_csv=… --video_dir=… --output_dir=… [options]`.

Checks the configuration before any work (a bad header or an unavailable model
stops the run with exit code 2 and a message that says how to fix it), plans,
takes the output folder's lease, runs the job pipeline/graph.py builds, and
prints the summary.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from typing import Dict, List, NamedTuple, Optional, Tuple

from apache_beam.options.pipeline_options import DebugOptions, DirectOptions, PipelineOptions, TestOptions

from pipeline import graph
from pipeline.augment_options import AugmentConfigError
from pipeline.logs import cause, configure_logging, ctrl_c_noted, interrupted, is_disk_full
from pipeline.process_exit import exit_now
from pipeline.options import (GhslOptions, exit_on_unknown_arguments, exit_with_help, feature_config,
                              landmark_config, option_problems, runs_locally)
from transforms.common import storage
from transforms.common.progress import LOG, ProgressCounter
from transforms.landmarks.holistic import ModelNotAvailable, check_model_available
from transforms.landmarks.native_logs import quiet_native_logs
from transforms.reports.run_reports import PROCESSED_CSV, SUMMARY_JSON, RunContext, written_columns
from transforms.store import lease, metadata, sentence_table
from transforms.store.paths import proc_path
from transforms.store.plan import make as make_plan
from transforms.store.results import MISSING
from transforms.store.reuse import fingerprints


class ConfigError(Exception):
    """A mistake in how the job was configured; the message says how to fix it."""


# What decoding costs in memory (bench.worker_memory, docs/benchmarks.md): a process running the DoFn
# with one Holistic peaks near 700 MiB, and each more thread decoding in it adds up to about 310.
PROCESS_MIB = 700
THREAD_MIB = 320
# MediaPipe runs more than one thread per video: past a few videos per core they only wait for each
# other, each holding its memory meanwhile.
VIDEOS_PER_CORE = 4
# Left to the system, Beam and the reports step.
MEMORY_SHARE = 0.8


def extraction_threads(options: PipelineOptions, argv: List[str]) -> int:
    """How many videos a worker decodes at once; sets the DirectRunner's mode for a local run.

    Locally, by default, the DirectRunner runs in memory, in this process, one bundle at
    a time, and ProcessVideos decodes one video per core (or --direct_num_workers) on
    threads fed from one queue: MediaPipe releases the GIL while it works, nothing is
    imported twice, no worker is started or stopped, and a thread takes the next video
    as soon as it is free. Beam's own workers (multi_threading, multi_processing) are each
    given a fixed share of a stage's input up front, so with clips of unequal length one
    would idle while the other still had a queue; they are used only when
    --direct_running_mode asks for them, one video at a time each. On Dataflow: 1 (the
    service runs one SDK process per vCPU).

    A local count beyond what the machine can hold (most_at_once) stops the run before any
    work: a thousand videos decoded at once would exhaust its memory long before finishing.
    """
    if not runs_locally(options):
        return 1
    direct = options.view_as(DirectOptions)
    threads = direct.direct_num_workers if any(a.startswith("--direct_num_workers") for a in argv) else 0
    if threads < 0:
        raise ConfigError(f"--direct_num_workers={threads}: use 0 (one video per core) or a positive number.")
    beams_own = any(a.startswith("--direct_running_mode") for a in argv)
    processes = beams_own and direct.direct_running_mode == "multi_processing"
    limit, why = most_at_once(processes)
    if threads > limit:
        each = f"{PROCESS_MIB} MiB per worker process" if processes else \
            f"about {THREAD_MIB} MiB each, beside the {PROCESS_MIB} MiB of the first"
        raise ConfigError(
            f"--direct_num_workers={threads} would decode {threads} videos at once, more than this machine can "
            f"hold: each video being decoded holds a MediaPipe Holistic ({each}) and shares the cores with the "
            f"others, so at most {limit} fit here ({why}). Use --direct_num_workers=0 (one video per core, the "
            f"default) or a number up to {limit}; for more at once, run on Dataflow (--runner=DataflowRunner).")
    if beams_own:
        return 1
    direct.direct_running_mode = "in_memory"
    direct.direct_num_workers = 1
    return threads if threads > 0 else min(os.cpu_count() or 1, limit)


def most_at_once(processes: bool) -> Tuple[int, str]:
    """How many videos this machine can decode at once, and why no more, in words.

    processes: each video in its own worker process (multi_processing), else threads of one.
    """
    cores = os.cpu_count() or 1
    limits = [(VIDEOS_PER_CORE * cores, f"{VIDEOS_PER_CORE} per core, on {cores} core(s)")]
    memory = machine_memory_mib()
    if memory is not None:
        usable = memory * MEMORY_SHARE
        fit = int(usable // PROCESS_MIB) if processes else 1 + int((usable - PROCESS_MIB) // THREAD_MIB)
        limits.append((max(1, fit), f"what {MEMORY_SHARE:.0%} of its {memory / 1024:.1f} GiB of memory holds"))
    return min(limits)


def machine_memory_mib() -> Optional[int]:
    """This machine's memory, or its container's limit when lower (cgroup v2, then v1); None if unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total // 2 ** 20


class Preflight(NamedTuple):
    """What the launcher read before any work: the metadata and one listing of --video_dir."""

    header: List[str]
    rows: List[metadata.ClipRow]
    videos: Dict[str, storage.ObjectInfo]   # relative path → the file, every file under --video_dir
    release: Optional[object]               # pipeline.release's ReleaseSettings; None with --release=false


def preflight(options: PipelineOptions) -> Preflight:
    """Everything that can be wrong before any video is read."""
    opts = options.view_as(GhslOptions)
    problems = option_problems(opts)
    if opts.heldout_folds:
        problems.append("--heldout_folds is for pipeline.release: after this run, build the folds with "
                        "`python -m pipeline.release --output_dir=… --heldout_by=… --heldout_folds`.")
    if problems:
        raise ConfigError(" ".join(problems) + " Run with --help for every option.")
    for name in ("metadata_csv", "video_dir", "output_dir"):
        # Reports give full paths (feature_path), and workers may not share our working directory.
        if storage.is_local(getattr(opts, name)):
            setattr(opts, name, os.path.abspath(getattr(opts, name)))
    if runs_locally(options):
        # On a remote runner the check runs where the work runs, at DoFn set-up in the worker image.
        try:
            check_model_available(opts.model_complexity)
        except ModelNotAvailable as exc:
            raise ConfigError(str(exc)) from exc
    if opts.augment_text:
        from pipeline import augment_text  # google-genai and Beam's Gemini handler: only for runs that use them

        try:
            augment_text.check_config(options)
        except AugmentConfigError as exc:
            raise ConfigError(str(exc)) from exc
    # Here, on the launcher, for gs:// too: a typo in a folder would otherwise show up hours
    # later, as every video missing or as the first write failing. One listing of the videos
    # serves these checks, a sentence table's pairing and the plan (transforms/store/plan.py).
    videos = list_videos(opts)
    header, rows = metadata_rows(opts, videos)
    check_column_names(opts, header)
    check_has_rows(opts, rows)
    # A --split_by column the metadata lacks would otherwise only fail once every video is done.
    settings = None
    if opts.release:
        from pipeline import release  # pyarrow and the release stage: imported once a run asks for them

        column = opts.heldout_by.strip()
        values = [row.extra.get(column, "") for row in rows if not row.error] if column in header else None
        try:
            settings = release.release_settings(opts, header, values)
        except release.ReleaseConfigError as exc:
            raise ConfigError(str(exc)) from exc
    check_output_dir(opts, writes_lease=not options.view_as(TestOptions).dry_run)
    check_missing_videos(opts, rows, videos)
    return Preflight(header, rows, videos, settings)


def check_column_names(opts: GhslOptions, header: List[str]) -> None:
    """Stop when a metadata column has the name of one the pipeline writes: its values would shadow the
    pipeline's in processed_metadata.csv, the report and the release."""
    from transforms.release.schema import ADDED, TEXT_VARIATIONS

    ours = set(written_columns()) | set(ADDED) | {TEXT_VARIATIONS}
    clashing = [c for c in header if c in ours and c not in metadata.REQUIRED_COLUMNS]
    if clashing:
        renamed = ", ".join(f"{c} → metadata_{c}" for c in clashing)
        raise ConfigError(
            f"The metadata file {opts.metadata_csv} has the column(s) {', '.join(clashing)}, which the pipeline "
            f"writes itself (processed_metadata.csv, the report and the release), so their values would be "
            f"confused with the pipeline's. Rename them in the metadata file (e.g. {renamed}) and run again.")


def check_has_rows(opts: GhslOptions, rows: List[metadata.ClipRow]) -> None:
    """Stop when the metadata has no row and --output_dir holds earlier results: such a run would empty their
    reports and list every saved clip as orphaned.

    On a new (or empty) folder a per-video file with no rows still runs, writing every report with its
    header and nothing else, as before: harmless, and a way to try the set-up (paths, permissions,
    options) without decoding anything. The log says why the reports are empty.
    """
    if rows:
        return
    earlier = earlier_results(opts.output_dir)
    if earlier:
        raise ConfigError(no_rows(opts, earlier))
    LOG.warning("The metadata file %s has no rows (a header, then nothing or blank lines): every report will be "
                "empty and nothing will be released.", opts.metadata_csv)


def no_rows(opts: GhslOptions, earlier: str) -> str:
    kept = (f" --output_dir {opts.output_dir} holds {earlier}: a run with no rows would empty its reports and "
            f"list every saved clip as orphaned, so nothing there was changed." if earlier else "")
    return (f"The metadata file {opts.metadata_csv} has no rows (a header, then nothing or blank lines), so there is "
            f"nothing to process.{kept} Check that --metadata_csv names the file you meant, with one row per video "
            f"(or per sentence), and run again.")


def earlier_results(output_dir: str) -> str:
    """What an output folder holds from earlier runs, in words ("" for nothing): its clips, reports, releases."""
    from transforms.release.layout import LATEST, releases_dir
    from transforms.store.plan import list_outputs

    listing = list_outputs(output_dir)
    clips = len(set(listing.landmarks) | set(listing.features) | set(listing.records))
    reports = sum(1 for name in listing.proc if not name.split("/")[-1].startswith("."))  # not the lease
    releases = {name.split("/")[0] for name in storage.list_objects(releases_dir(output_dir)) if name != LATEST}
    found = []
    if clips:
        found.append(f"{clips} earlier result(s) (the landmarks, features or record of {clips} clip(s))")
    if reports:
        found.append(f"{reports} report file(s) under proc/")
    if releases:
        found.append(f"{len(releases)} release(s)")
    return ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + found[-1] if found else ""


def metadata_rows(opts: GhslOptions, videos: Dict[str, storage.ObjectInfo]):
    """The metadata's header and rows: a per-video file's as they are, a sentence table's paired with the listing."""
    try:
        return sentence_table.metadata_rows(opts.metadata_csv, videos, opts.metadata_columns, opts.video_name_pattern)
    except sentence_table.NoSentences as exc:  # its videos would all be unpaired: it stops on a new folder too
        raise ConfigError(no_rows(opts, earlier_results(opts.output_dir))) from exc
    except metadata.MetadataError as exc:
        raise ConfigError(str(exc)) from exc


def list_videos(opts: GhslOptions) -> Dict[str, storage.ObjectInfo]:
    try:
        videos = storage.list_objects(opts.video_dir)
    except Exception as exc:  # a bucket that does not exist, no permission to list…
        raise ConfigError(f"Cannot list --video_dir {opts.video_dir}: {exc}. Check the path and that this "
                          f"account may read it.") from exc
    found = os.path.isdir(opts.video_dir) if storage.is_local(opts.video_dir) else bool(videos)
    if not found:
        raise ConfigError(f"--video_dir {opts.video_dir} does not exist (or holds no files), so every video "
                          f"would be missing. Check the path.")
    return videos


def check_output_dir(opts: GhslOptions, writes_lease: bool) -> None:
    """Stop unless --output_dir can be written. A run that takes the lease on a bucket proves it with
    that write (transforms/store/lease.py), so only a dry run or a local folder needs a probe."""
    if writes_lease and not storage.is_local(opts.output_dir):
        return
    probe = proc_path(opts.output_dir, f".write-check-{uuid.uuid4().hex}")
    try:
        storage.write_bytes(probe, b"")
        storage.delete(probe)
    except Exception as exc:  # permissions, a file in the way, a bucket that does not exist…
        raise ConfigError(f"Cannot write under --output_dir {opts.output_dir}: {exc}. Check the path and "
                          f"that this account may write there.") from exc


def check_missing_videos(opts: GhslOptions, rows, videos: Dict[str, storage.ObjectInfo]) -> None:
    """Stop when most videos are missing: that is a wrong --video_dir far more often than a lost dataset."""
    wanted = [r.video_file for r in rows if not r.error]
    if not wanted or opts.max_missing_fraction >= 1.0:
        return
    missing = [v for v in wanted if v not in videos]
    if len(missing) > opts.max_missing_fraction * len(wanted):
        examples = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        raise ConfigError(
            f"{len(missing)} of the {len(wanted)} videos the metadata lists are not under --video_dir "
            f"{opts.video_dir} ({examples}). Check --video_dir and the metadata's video_file paths; if the "
            f"videos really are gone, run again with --max_missing_fraction=1 (their published outputs are "
            f"kept and listed in proc/orphaned_outputs.csv).")


def run(argv: Optional[List[str]] = None) -> dict:
    """Runs the job and returns run_summary.json's content (empty when the runner does not wait)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = PipelineOptions(argv)
    threads = extraction_threads(options, argv)
    opts = options.view_as(GhslOptions)
    checked = preflight(options)
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
    """The plan and everything else the job needs, decided here; under the lease, no other run changes the
    outputs between these listings and the job."""
    opts, started_at = options.view_as(GhslOptions), time.time()
    plan = make_plan(checked.rows, checked.videos, opts.output_dir,
                     fingerprints(landmark_config(opts), feature_config(opts)), reprocess_all=opts.reprocess == "all")
    context = RunContext(
        output_dir=opts.output_dir,
        extra_columns=tuple(c for c in checked.header if c not in metadata.REQUIRED_COLUMNS),
        config={**graph.run_config(opts),
                "beam_options": options.get_all_options(drop_default=True, retain_unknown_options=False)},
        feature_options=feature_config(opts), started_at=started_at, planned_orphans=tuple(plan.orphans),
        prune_orphans=opts.prune_orphans, proc=plan.proc, index=plan.index)
    # With --augment_text the release waits for the text step, and the launcher gives the lease back.
    return graph.Job(plan, context, None if opts.augment_text else checked.release,
                     None if opts.augment_text else taken, run_id, threads)


def _run(options: PipelineOptions, opts: GhslOptions, checked: Preflight, run_id: str, threads: int,
         taken: Optional[lease.Taken]) -> dict:
    job = make_job(options, checked, run_id, threads, taken)
    plan = job.plan
    LOG.info("%d metadata rows from %s. %s", len(checked.rows), opts.metadata_csv, plan.describe())
    if threads > 1 and plan.decodes:
        LOG.info("Decoding up to %d videos at a time", threads)
    if not runs_locally(options):
        # The plan's rows travel inside the job; a large plan would exceed the size of a job request.
        options.view_as(DebugOptions).add_experiment("upload_graph")

    # From here until this run writes it last, the outputs are being rewritten: no summary may vouch for them.
    if SUMMARY_JSON in plan.proc and taken is not None:
        storage.delete_if_present(proc_path(opts.output_dir, SUMMARY_JSON))
    progress = ProgressCounter(run_id, plan.progress_total)
    for result in plan.settled:
        if result.status == MISSING:
            progress.finished(result.video_file, MISSING, 0, 0.0, result.error)
    try:
        result = graph.build(options, job).run()
        if not runs_locally(options) and not opts.augment_text:
            LOG.info("Submitted; the job writes %s when it finishes.", proc_path(opts.output_dir, SUMMARY_JSON))
            return {}
        # The text step reads the finished processed_metadata.csv, so with it even a remote run waits.
        result.wait_until_finish()
    finally:
        progress.cleanup()
    summary = json.loads(storage.read_bytes(proc_path(opts.output_dir, SUMMARY_JSON)))
    summary["counters"] = _counters(result)
    summary["report"] = proc_path(opts.output_dir, "report.html")
    if opts.augment_text:
        summary.update(_text_and_release(options, opts, checked, taken))
    return summary


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
EXIT_INTERRUPTED = 130


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

            print(f"  release: {describe(summary['release'])}")
    return 0


def ending(exc: BaseException, argv: Optional[List[str]]) -> Tuple[int, str]:
    """The exit code and the message of a run that did not finish.

    A configuration mistake (2) was found before any work. A Ctrl-C (130) and a full disk (1)
    are one line each, without a traceback: neither is a fault to debug, and both leave every
    published file complete. Anything else (1) keeps the traceback the runner logged.
    """
    out = _output_dir(argv)
    if interrupted() or cause(exc, lambda e: isinstance(e, KeyboardInterrupt)):
        stands = ("the last finished run's run_summary.json still stands" if _summary_stands(out) else
                  "no run_summary.json was written")
        return EXIT_INTERRUPTED, (
            f"Interrupted (Ctrl-C): the run stopped before it finished. Kept: every output it published under "
            f"{out}, each complete (a video being saved when Ctrl-C came is finished first; press Ctrl-C again "
            f"to stop at once); {stands}. Run the same command again to finish the work: it reuses what was kept.")
    if isinstance(exc, (ConfigError, AugmentConfigError)):
        return 2, f"error: {exc}"
    if cause(exc, is_disk_full) or "[Errno 28]" in str(exc):  # the text: an error from a worker process
        return 1, disk_full_message(exc, argv)
    if _summary_stands(out):  # it failed before rewriting anything
        stands = f"The outputs under {out} are as the last finished run left them: its run_summary.json still stands."
    else:
        stands = (f"The outputs under {out} are incomplete: no run_summary.json was written, so nothing vouches "
                  f"for the reports under proc/. Every file the run published is complete;")
    return 1, (f"error: the job failed: {type(exc).__name__}: {exc}\n{stands} Run the same command again to "
               f"finish the rest (it reuses what was published).")


def _summary_stands(out: str) -> bool:
    """run_summary.json is there: a run deletes it before it rewrites any output, so that one is untouched."""
    try:
        return storage.exists(proc_path(out, SUMMARY_JSON))
    except Exception:  # the message must not fail in its turn; say the outputs may be incomplete
        return False


def _options(argv: Optional[List[str]]) -> GhslOptions:
    return PipelineOptions(list(sys.argv[1:] if argv is None else argv)).view_as(GhslOptions)


def _output_dir(argv: Optional[List[str]]) -> str:
    out = _options(argv).output_dir or "--output_dir"
    return os.path.abspath(out) if storage.is_local(out) else out


def disk_full_message(exc: BaseException, argv: Optional[List[str]]) -> str:
    """One line: which disk is full, its free space, and how much the rest of the run needs (when the clips
    saved so far tell)."""
    out = _output_dir(argv)
    full = cause(exc, is_disk_full)
    written = getattr(full, "filename", None)
    folder = out if storage.is_local(out) else tempfile.gettempdir()
    if written and not os.path.abspath(str(written)).startswith(folder.rstrip(os.sep) + os.sep):
        folder = os.path.dirname(os.path.abspath(str(written)))
    free = _free_bytes(folder)
    where = f"the disk holding {folder}" + (f" ({_size(free)} free)" if free is not None else "")
    elsewhere = (" (or give --output_dir a folder on a larger disk)" if folder == out else
                 " (or set TMPDIR to a folder on a larger disk)" if folder == tempfile.gettempdir() else "")
    needed = _space_needed(argv)
    if needed is None or free is None or needed[0] <= free:
        amount = f"Free space under {folder}"
    else:
        bytes_, videos, each = needed
        amount = (f"The {videos} video(s) still to save need about {_size(bytes_)} (about {_size(each)} per clip "
                  f"saved so far), {_size(bytes_ - free)} more than is free: free at least that under {folder}")
    return (f"error: no space left on {where}. {amount}{elsewhere} and run the same command again: every output "
            f"already published is complete and is reused; this run wrote no run_summary.json.")


def _free_bytes(folder: str) -> Optional[int]:
    path = folder
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path or os.sep).free
    except OSError:
        return None


def _space_needed(argv: Optional[List[str]]) -> Optional[Tuple[int, int, int]]:
    """(bytes, videos, bytes per clip): the videos of the metadata with no record yet, times what a clip
    saved so far takes (its landmarks, features and record); None when no clip is saved or it cannot tell."""
    from transforms.store.plan import list_outputs

    opts = _options(argv)
    try:
        listing = list_outputs(_output_dir(argv))
        saved = [stem for stem in listing.records if stem in listing.landmarks]
        if not saved:
            return None
        each = sum(listing.landmarks[s].size + listing.records[s].size +
                   (listing.features[s].size if s in listing.features else 0) for s in saved) // len(saved)
        videos = storage.list_objects(opts.video_dir)
        _, rows = metadata_rows(opts, videos)
        todo = sum(1 for r in rows if not r.error and r.video_file in videos and r.feature_stem not in listing.records)
    except Exception:  # a message about a full disk must not fail in its turn
        return None
    return (todo * each, todo, each) if todo else None


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


if __name__ == "__main__":
    exit_now(main())
