"""What the job finds on storage before any work: the videos, the outputs already published, the record index.

Each is a read inside the job (an Impulse, then one listing or one read in a
DoFn), never values the launcher put into the graph: a folder of a million files
is listed once, by one worker, page by page (GCS: 1,000 objects a request), and
its entries are spread to the workers by the joins that follow.

  ListFiles        (path relative to the folder, ObjectInfo) of every file under it, and how many
                   (tag COUNT)
  ListOutputs      every .pose, .npy and record under OUT, keyed for the per-clip join:
                   (rows.nfc(stem), (stem, kind, ObjectInfo fields))
  ReadIndex        the record index's entries keyed for the per-clip join: (rows.nfc(stem), (stem,
                   size, version, record)); its stored total (tag TOTAL), or why it cannot be used
                   (tag PROBLEM), and a digest of its entries (tag DIGEST)

The two reads of OUT emit their entries keyed as the join wants them (rather than
keyed by a step of their own: every step costs a few milliseconds of every run).
"""
from __future__ import annotations

import concurrent.futures
from typing import Dict, Iterable, Tuple

import apache_beam as beam

from transforms.common import storage
from transforms.common.progress import LOG
from transforms.store import record_index
from transforms.store.paths import FEATURES_SUBDIR, LANDMARK_SUFFIX, LANDMARKS_SUBDIR, RECORDS_SUBDIR
from transforms.store.plan import NPY, POSE, RECORD
from transforms.store.rows import nfc

TOTAL, PROBLEM, COUNT, DIGEST = "total", "problem", "count", "digest"


class _ReadOnce(beam.PTransform):
    """The elements `read(arg)` yields, read on one worker from an Impulse (the launcher reads nothing)."""

    def __init__(self, read, arg, *, outputs=()):
        super().__init__()
        self.read, self.arg, self.outputs = read, arg, outputs

    def expand(self, pbegin):
        step = beam.ParDo(_Read(), self.read, self.arg)
        return (pbegin
                | "Start" >> beam.Impulse()
                | "Read" >> (step.with_outputs(*self.outputs, main="entries") if self.outputs else step))


class _Read(beam.DoFn):
    def process(self, _, read, arg):
        yield from read(arg)


class ListFiles(_ReadOnce):
    """Main output: the files; tag COUNT: how many (one element), counted as they are listed."""

    def __init__(self, folder: str):
        super().__init__(_files, folder, outputs=(COUNT,))


class ListOutputs(_ReadOnce):
    """The three prefixes of OUT a clip writes to, listed at once (each is a round trip or more)."""

    def __init__(self, output_dir: str):
        super().__init__(_published_by_stem, output_dir)


class ReadIndex(_ReadOnce):
    """Main output: (nfc(stem), (stem, *Entry)); tags TOTAL (the stored total, when usable), PROBLEM (why the index cannot
    be used) and DIGEST (record_index.entries_digest of the entries read, one element)."""

    def __init__(self, output_dir: str):
        super().__init__(_index, output_dir, outputs=(TOTAL, PROBLEM, DIGEST))


def _files(folder: str):
    listed = storage.list_objects(folder)
    yield from listed.items()
    yield beam.pvalue.TaggedOutput(COUNT, len(listed))


def published(output_dir: str) -> Iterable[Tuple[str, Tuple[str, storage.ObjectInfo]]]:
    prefixes = {"landmarks": storage.join(output_dir, *LANDMARKS_SUBDIR),
                "features": storage.join(output_dir, FEATURES_SUBDIR[0])}
    with concurrent.futures.ThreadPoolExecutor(len(prefixes)) as pool:
        listed = dict(zip(prefixes, pool.map(storage.list_objects, prefixes.values())))
    kinds = ((POSE, listed["landmarks"], "", LANDMARK_SUFFIX),
             (NPY, listed["features"], "/".join(FEATURES_SUBDIR[1:]) + "/", ".npy"),
             (RECORD, listed["features"], "/".join(RECORDS_SUBDIR[1:]) + "/", ".json"))
    for kind, listing, under, suffix in kinds:
        for stem, info in stems(listing, under, suffix).items():
            yield stem, (kind, info)


def _published_by_stem(output_dir: str):
    for stem, (kind, info) in published(output_dir):
        yield nfc(stem), (stem, kind, tuple(info))


def by_kind(output_dir: str) -> Dict[str, Dict[str, storage.ObjectInfo]]:
    """kind (POSE, NPY, RECORD) → stem → file: what OUT holds, for the launcher's checks and messages."""
    found: Dict[str, Dict[str, storage.ObjectInfo]] = {POSE: {}, NPY: {}, RECORD: {}}
    for stem, (kind, info) in published(output_dir):
        found[kind][stem] = info
    return found


def stems(listing: Dict[str, storage.ObjectInfo], under: str, suffix: str) -> Dict[str, storage.ObjectInfo]:
    """stem → file for the names under `under` ending in `suffix`; hidden files (a write in progress) left out."""
    found = {}
    for name, info in listing.items():
        if name.startswith(under) and name.endswith(suffix) and not name.split("/")[-1].startswith("."):
            found[name[len(under): -len(suffix)]] = info
    return found


def _index(output_dir: str):
    # Entries are emitted as they are read: each is used only while its record file is the one it
    # describes (Entry.is_current), so a damaged line further down does not spoil them. The total
    # vouches for the whole file, so it is emitted only once the last line has been read.
    digest = 0
    try:
        total, entries = record_index.read(output_dir)
        for stem, entry in entries:
            digest = record_index.add_to_digest(digest, stem, entry.size, entry.version)
            yield nfc(stem), (stem, *entry)
    except record_index.Unusable as exc:
        LOG.warning("The record index %s cannot be used (%s); the records it would have given are read "
                    "instead.", record_index.path(output_dir), exc)
        yield beam.pvalue.TaggedOutput(PROBLEM, str(exc))
        total = None
    yield beam.pvalue.TaggedOutput(DIGEST, digest)
    if total is not None:
        yield beam.pvalue.TaggedOutput(TOTAL, total)
