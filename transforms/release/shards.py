"""Writing the Parquet shards with Beam's fileio.WriteToFiles.

Why fileio and not parquetio.WriteToParquet: WriteToParquet fixes its file
prefix and shard count when the graph is built, but a release's shard count
depends on the data, and inside the main job the data does not exist yet.
WriteToFiles takes each element's destination at run time. Each element here
is a whole shard (its rows read and ordered beforehand), so one element makes
one file: WriteToFiles writes it to a temporary file on a worker and renames
it to `<destination>.parquet` under the run's staging folder. Shards are
written in parallel by as many workers as there are shards.

Row groups hold at most ROW_GROUP_BYTES of feature arrays: `datasets` reads a
Parquet file one row group at a time (its own writer caps them at 100 MB),
and so does a streaming loader.
"""
from __future__ import annotations

import hashlib
from typing import List, Mapping, NamedTuple

import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from transforms.release.layout import SHARD_SUFFIX
from transforms.release.schema import FEATURES, ReleaseSchema

ROW_GROUP_BYTES = 64 * 1024 * 1024
COMPRESSION = "zstd"  # what pyarrow, pandas, `datasets`, DuckDB and Polars all read
_HASH_CHUNK = 8 * 1024 * 1024


class Shard(NamedTuple):
    name: str                       # e.g. train-00000-of-00002
    schema: ReleaseSchema
    rows: List[Mapping[str, object]]  # in the order they are written


class ParquetShardSink(fileio.FileSink):
    """Writes one Shard per file (WriteToFiles opens one file per destination and bundle)."""

    def open(self, fh) -> None:
        self._fh = fh
        self._writer = None

    def write(self, shard: Shard) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._fh, shard.schema.arrow(), compression=COMPRESSION)
        for group in _row_groups(shard.rows):
            self._writer.write_table(shard.schema.table(group), row_group_size=len(group))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.close()  # the footer; WriteToFiles closes the file itself
            self._writer = None


def _row_groups(rows: List[Mapping[str, object]]):
    group, size = [], 0
    for row in rows:
        group.append(row)
        size += row[FEATURES].nbytes
        if size >= ROW_GROUP_BYTES:
            yield group
            group, size = [], 0
    if group:
        yield group


def shard_file_name(window, pane, shard_index, total_shards, compression, destination) -> str:
    """WriteToFiles' file naming: one file per destination, named after it."""
    if total_shards not in (None, 1):
        # Only if a runner split one element's output over bundles, which no runner does.
        raise RuntimeError(f"release shard {destination} came out as {total_shards} files")
    return destination + SHARD_SUFFIX


def shard_digest(path: str) -> Mapping[str, object]:
    """{"size", "sha256", "data_bytes"} of a written shard, read back in chunks; data_bytes is the
    uncompressed size of its row groups (from the footer), what `datasets` calls a split's num_bytes."""
    digest, size = hashlib.sha256(), 0
    with FileSystems.open(path, mime_type="application/octet-stream") as handle:
        while True:
            chunk = handle.read(_HASH_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    with FileSystems.open(path, mime_type="application/octet-stream") as handle:
        footer = pq.ParquetFile(handle).metadata
        data_bytes = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    return {"size": size, "sha256": digest.hexdigest(), "data_bytes": data_bytes}
