"""The report page's tally in the job: the same page whatever bundles and merge order a runner picks.

The job tallies each status's rows with RunTallyFn (combined where the rows are made) and merges the
four tallies with MergedTallyFn; the page built from a finished run's CSVs tallies the whole list at once
(report_data.picks). Both must choose the same clips and the same numbers, in the same order, and the
run's counts and index digest add up the same whatever the bundles.
"""
import random

import numpy as np
import pytest

from transforms.reports.report_data import (MAX_TABLE_ROWS, MEASURED, METRICS, REPORT_STATUSES, ReportClip,
                                            picks)
from transforms.reports.run_reports import KEPT_LOW
from transforms.reports.write_reports import MergedTallyFn, RunTallyFn
from transforms.store.record_index import entry_hash
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS

from tests.runner_like import as_a_runner_would

SAMPLES, MAX_PREVIEWS = 7, 5
# The stream each report status comes from in the job (a kept_low clip is a success).
STREAM = {SUCCESS: SUCCESS, KEPT_LOW: SUCCESS, LOW_QUALITY: LOW_QUALITY, FAILED: FAILED, MISSING: MISSING}


def rows(n, seed):
    """(position, clip) in report order: every status, twice-listed kept_low rows, repeated video names
    (a metadata file may list one video twice), reasons with clip-specific numbers, more rejected
    clips than the page lists."""
    rng = random.Random(seed)
    found = []
    for line in range(n):
        status = rng.choice(REPORT_STATUSES)
        video = f"v{rng.randrange(n // 2):05d}.mp4"
        common = dict(video_file=video, category=f"c{rng.randrange(6)}", sentence_id=str(rng.randrange(40)),
                      sentence="s")
        measured = {m: rng.uniform(0, 100) for m in METRICS} if status in MEASURED else {}
        reason = "" if status in (SUCCESS, KEPT_LOW) else f"{status} because of {rng.randrange(3)} ({line} bytes)"
        saved = f"out/{video}.npy" if status in (SUCCESS, KEPT_LOW) else ""
        key = ((False, line, video), 0)
        found.append((key, ReportClip(status=status, reason=reason, feature_path=saved, **common, **measured)))
        if status == KEPT_LOW:
            found.append((((False, line, video), 1),
                          ReportClip(status=KEPT_LOW, reason="low because of 2", listed_twice=True,
                                     feature_path=saved, **common, **measured)))
    return found


def tally_items(found):
    """The tally items _Fields makes: one per clip here, with its status counted and an index entry's hash."""
    return [([(position, clip)], {"rows": 1, clip.status: 1}, entry_hash(clip.video_file, i, "v"))
            for i, (position, clip) in enumerate(found)]


def run_tally(found, rng):
    by_stream = {stream: [] for stream in sorted(set(STREAM.values()))}
    for item in tally_items(found):
        by_stream[STREAM[item[0][0][1].status]].append(item)
    tallies = [as_a_runner_would(RunTallyFn(SAMPLES, MAX_PREVIEWS), items, rng) for items in by_stream.values()]
    return as_a_runner_would(MergedTallyFn(SAMPLES, MAX_PREVIEWS), tallies, rng)


def as_the_job_would(found, rng):
    return run_tally(found, rng).page.picks()


def same(a, b):
    assert a.problems == b.problems
    assert a.previews == b.previews
    assert a.stats.rows_per_report == b.stats.rows_per_report
    assert a.stats.categories == b.stats.categories
    assert a.stats.reasons == b.stats.reasons
    assert a.stats.clips_per_sentence == b.stats.clips_per_sentence
    for status in MEASURED:
        for metric in METRICS:
            assert a.stats.values[status][metric].tobytes() == b.stats.values[status][metric].tobytes()


@pytest.mark.parametrize("seed", range(4))
def test_any_bundling_picks_what_the_whole_list_picks(seed):
    found = rows(2 * MAX_TABLE_ROWS + 300, seed)
    whole = picks([clip for _, clip in found], SAMPLES, MAX_PREVIEWS)
    assert len(whole.problems) == MAX_TABLE_ROWS and len(whole.previews) == SAMPLES + MAX_PREVIEWS
    for k in range(3):
        same(as_the_job_would(found, random.Random(seed * 10 + k)), whole)


def test_a_clips_numbers_stay_together_in_report_order():
    found = rows(200, 9)
    tallied = as_the_job_would(found, random.Random(5))
    measured = [clip for _, clip in found if clip.status == LOW_QUALITY]
    values = tallied.stats.values[LOW_QUALITY]
    expected = np.array([[getattr(c, m) for m in METRICS] for c in measured])
    assert np.array_equal(np.stack([values[m] for m in METRICS], axis=1), expected)


def test_no_rows_make_an_empty_page():
    tallied = as_the_job_would([], random.Random(0))
    assert tallied.problems == [] and tallied.previews == []
    assert tallied.stats.rows_per_report == {}
    assert all(len(tallied.stats.values[g][m]) == 0 for g in MEASURED for m in METRICS)


def test_the_counts_and_the_index_digest_add_up_whatever_the_bundles():
    found = rows(600, 4)
    tallies = [run_tally(found, random.Random(k)) for k in range(3)]
    expected = sum(entry_hash(clip.video_file, i, "v") for i, (_, clip) in enumerate(found)) % (1 << 256)
    assert all(t.digest == expected for t in tallies)
    assert all(t.counts == tallies[0].counts for t in tallies) and tallies[0].counts["rows"] == len(found)
