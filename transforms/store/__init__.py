"""Storage and records: paths and atomic writes, metadata rows, per-video records, re-run reuse, orphans."""
