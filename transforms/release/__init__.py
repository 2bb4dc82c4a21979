"""Stage 4: the saved clips → a versioned dataset release under OUT/releases/<release id>/ (docs/release.md).

settings    the options a release is built with, checked before any work
splits      which split each clip goes to: group-disjoint, stable, families of copies and sentence texts kept together
history     the previous release of the same split options: where it put each group, the rows that moved since
schema      the fields of a release row: Parquet schema, card lines and feature_schema.json from one list
inputs      what a release is built from: the run's reports and the clips' records
plan        the release id, every clip's split and shard, decided before any feature file is read
shards      one shard's Parquet file, written straight into the release by the worker that reads its clips
stats       the train split's statistics (stats.npz)
card        the dataset card (README.md, Hugging Face format)
croissant   croissant.json: the release in Croissant 1.1 (MLCommons JSON-LD) with its Responsible-AI fields
manifest    the release id's inputs and the manifest (every file's size and sha256)
layout      where a release's files go, and what makes a folder a release
publish     moving the shards in, writing the small files, the manifest last, latest.json
build       the Beam PTransform that does all of the above at run time
batches     fixed-length, standardized training batches from a release's rows (no Beam)
"""
