"""Everything that can be wrong before a run reads a video, checked where the job is launched.

A configuration mistake raises ConfigError, whose message says how to fix it;
pipeline/run.py stops with exit code 2 before any work (docs/bad-input.md). Also
here: how many videos a local worker decodes at once, within what the machine holds.
"""
from __future__ import annotations

import os
import uuid
from typing import Dict, List, NamedTuple, Optional, Tuple

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, TestOptions

from pipeline.augment_options import AugmentConfigError
from pipeline.options import GhslOptions, option_problems, runs_locally
from transforms.common import storage
from transforms.common.progress import LOG
from transforms.landmarks.holistic import ModelNotAvailable, check_model_available
from transforms.reports.run_reports import written_columns
from transforms.store import metadata, sentence_table
from transforms.store.paths import PROC_SUBDIR, proc_path


class ConfigError(Exception):
    """A mistake in how the job was configured; the message says how to fix it."""


# What decoding costs in memory (bench.worker_memory, docs/benchmarks.md): a process running the DoFn
# with one Holistic peaks near 700 MiB (Beam's multi_processing workers, a Dataflow SDK process). A local
# run's own process (Beam, no Holistic) peaks near 340 MiB, and each video it decodes at once has an
# extraction process (transforms/landmarks/extractor_process.py) that peaks near 470 MiB on 1080p clips.
PROCESS_MIB = 700
RUN_PROCESS_MIB = 350
EXTRACTION_PROCESS_MIB = 480
# MediaPipe runs more than one thread per video: past a few videos per core they only wait for each
# other, each holding its memory meanwhile.
VIDEOS_PER_CORE = 4
# Left to the system, Beam and the reports step.
MEMORY_SHARE = 0.8


def extraction_threads(options: PipelineOptions, argv: List[str]) -> int:
    """How many videos a worker decodes at once; sets the DirectRunner's mode for a local run.

    Locally, by default, the DirectRunner runs in memory, in this process, one bundle at
    a time, and ProcessVideos decodes one video per core (or --direct_num_workers) on
    threads fed from one queue, each thread driving a MediaPipe in an extraction process
    of its own that imports no Beam (transforms/landmarks/extractor_process.py); a thread
    takes the next video as soon as it is free. Beam's own workers (multi_threading,
    multi_processing) are each given a fixed share of a stage's input up front, so with
    clips of unequal length one would idle while the other still had a queue; they are
    used only when --direct_running_mode asks for them, one video at a time each. On
    Dataflow: 1 (the service runs one SDK process per vCPU).

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
            f"an extraction process of about {EXTRACTION_PROCESS_MIB} MiB each, beside the run's {RUN_PROCESS_MIB} MiB"
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

    processes: each video in a Beam worker process of its own (multi_processing), else in an
    extraction process beside the run's own.
    """
    cores = os.cpu_count() or 1
    limits = [(VIDEOS_PER_CORE * cores, f"{VIDEOS_PER_CORE} per core, on {cores} core(s)")]
    memory = machine_memory_mib()
    if memory is not None:
        usable = memory * MEMORY_SHARE
        fit = int(usable // PROCESS_MIB) if processes else int((usable - RUN_PROCESS_MIB) // EXTRACTION_PROCESS_MIB)
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
    """What the launcher read before any work, to check it: the metadata and one listing of --video_dir.

    None of it goes into the job, which reads both again itself (pipeline/graph.py): only the
    headers do, which say how a sentence table's videos are paired.
    """

    sheet_header: List[str]                 # the metadata file's own header (renamed to our column names)
    header: List[str]                       # the rows' columns
    rows: List[metadata.ClipRow]
    videos: Dict[str, storage.ObjectInfo]   # relative path → the file, every file under --video_dir
    release: Optional[object]               # pipeline.release's ReleaseSettings; None with --release=false

    def describe(self) -> str:
        """The rows in a few counts, for the log: what the job will find too."""
        refused = sum(1 for r in self.rows if r.error and not r.missing)
        named = [r for r in self.rows if not r.error]
        listed = sum(1 for r in named if r.video_file in self.videos)
        missing = len(named) - listed + sum(1 for r in self.rows if r.missing)
        return (f"{listed} with a video under --video_dir, {missing} missing, {refused} refused "
                f"({len(self.videos)} files listed)")


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
    sheet_header, header, rows = metadata_rows(opts, videos)
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
        # How many usable rows have a blank --split_by or --heldout_by value, and what the release does with them.
        release.log_blank_values(settings, [row_values(r) for r in rows if not r.error], what="metadata row(s)")
    log_formula_like_values(opts, rows)
    # Last, and only then a write: every check that can stop the run has run, so a stopped run leaves nothing.
    check_missing_videos(opts, rows, videos)
    check_output_dir(opts, writes_lease=not options.view_as(TestOptions).dry_run)
    return Preflight(sheet_header, header, rows, videos, settings)


def row_values(row: metadata.ClipRow) -> Dict[str, str]:
    """A row's values by column, ours and the metadata's own."""
    return {**row.extra, **{c: getattr(row, c) for c in metadata.REQUIRED_COLUMNS}}


def log_formula_like_values(opts: GhslOptions, rows: List[metadata.ClipRow]) -> None:
    """Warn when metadata values start like a spreadsheet formula (=, +, -, @): the reports keep every value as
    written (docs/bad-input.md, "Hostile values"), so a spreadsheet that opens them by a double click may run
    them as formulas."""
    found = [(row.line, column, value) for row in rows for column, value in row_values(row).items()
             if metadata.formula_like(value)]
    if found:
        line, column, value = found[0]
        LOG.warning("%d value(s) of the metadata file %s start like a spreadsheet formula (=, +, -, @), e.g. line %s, "
                    "%s = %r. The reports under proc/ keep every value exactly as written (the pipeline and its "
                    "readers read them back; a video may be named +1.mp4): open them in a spreadsheet through its "
                    "import dialog with the columns as text, not by a double click, which may run a formula.",
                    len(found), opts.metadata_csv, line, column, value)


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
    from transforms.store.listings import by_kind

    clips = len(set().union(*by_kind(output_dir).values()))
    proc = storage.list_objects(storage.join(output_dir, PROC_SUBDIR))
    reports = sum(1 for name in proc if not name.split("/")[-1].startswith("."))  # not the lease
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
    that write (transforms/store/lease.py), so only a dry run or a local folder needs a probe, which
    leaves no folder it made behind (the run's lease makes them again)."""
    if writes_lease and not storage.is_local(opts.output_dir):
        return
    probe = proc_path(opts.output_dir, f".write-check-{uuid.uuid4().hex}")
    made = _missing_folders(os.path.dirname(probe)) if storage.is_local(probe) else []
    try:
        storage.write_bytes(probe, b"")
        storage.delete(probe)
    except Exception as exc:  # permissions, a file in the way, a bucket that does not exist…
        raise ConfigError(f"Cannot write under --output_dir {opts.output_dir}: {exc}. Check the path and "
                          f"that this account may write there.") from exc
    finally:
        for folder in made:  # deepest first
            try:
                os.rmdir(folder)
            except OSError:
                pass


def _missing_folders(folder: str) -> List[str]:
    """`folder` and each of its parents that does not exist yet, deepest first."""
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


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
