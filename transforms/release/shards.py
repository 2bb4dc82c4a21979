"""Writing one Parquet shard: a local file built with pyarrow, then published whole at its place in the release.

Each shard is written by the worker that read its clips (transforms/release/build.py),
straight into releases/<id>/data/: the folder is a release only once its manifest is
written last, so a shard needs no staging folder, and a retried write publishes the
same bytes again. The file is hashed and its footer read before it is published, so
the manifest's entries cost no read back from the bucket.

Row groups hold at most ROW_GROUP_BYTES of feature arrays: `datasets` reads a
Parquet file one row group at a time (its own writer caps them at 100 MB),
and so does a streaming loader.
"""
from __future__ import annotations

import hashlib
from typing import List, Mapping, NamedTuple

from transforms.common import storage
from transforms.release.schema import FEATURES, ReleaseSchema

ROW_GROUP_BYTES = 64 * 1024 * 1024
COMPRESSION = "zstd"  # what pyarrow, pandas, `datasets`, DuckDB and Polars all read
_HASH_CHUNK = 8 * 1024 * 1024


class Shard(NamedTuple):
    name: str                         # e.g. train-00000-of-00002
    schema: ReleaseSchema
    rows: List[Mapping[str, object]]  # in the order they are written


def write_shard(shard: Shard, path: str) -> Mapping[str, object]:
    """Writes the shard at `path` in one step; returns its manifest entry {"size", "sha256", "data_bytes",
    "stored"} (data_bytes: the uncompressed size of its row groups, what `datasets` calls a split's num_bytes;
    stored: its identity in the store, storage.identity)."""
    import pyarrow.parquet as pq  # only where shards are written

    local = storage.temporary_file(path)
    with pq.ParquetWriter(local, shard.schema.arrow(), compression=COMPRESSION) as writer:
        for group in _row_groups(shard.rows):
            writer.write_table(shard.schema.table(group), row_group_size=len(group))
    digest, size = hashlib.sha256(), 0
    with open(local, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    footer = pq.ParquetFile(local).metadata
    data_bytes = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    written = storage.write_file(path, local)
    return {"size": size, "sha256": digest.hexdigest(), "data_bytes": data_bytes, "stored": storage.identity(written)}


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
