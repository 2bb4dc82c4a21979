"""The held-out axis (splits.py points 5–7, conditions.py, settings.py): unseen signers and unseen sentences in
one release, without Beam or MediaPipe.

The datasets are built here in the published layout: `<sentence id><Letter>.mp4`, the letter the held-out
column (`take`, or `signer`), several letters and 2–3 videos per sentence (SignTalk-GH has ~2.45)."""
import hashlib
import random

import pytest

from transforms.release import conditions, settings, splits
from transforms.release.settings import ALL_SPLITS, HELDOUT_SPLITS, SPLITS
from transforms.release.splits import (COPY_OF_SEEN, LEFT_OUT, VALIDATION_SENTENCE, Clip, HeldOutError, HeldOutRule,
                                       assign, decide_heldout, heldout_order, heldout_position, heldout_problems,
                                       heldout_size, read_pins, read_split_pins, splits_csv)

RATIOS = (0.8, 0.1, 0.1)
LETTERS = "ABCDEFGHIJ"
CATEGORIES = ("Pharmacy", "Emergency", "Maternity")


def published(sentences=200, signers=5, seed=0, first=1000):
    """Clips named like SignTalk-GH's videos: each sentence signed by 2 or 3 of the signers."""
    rng = random.Random(seed)
    clips = []
    for sentence in range(first, first + sentences):
        for letter in sorted(rng.sample(LETTERS[:signers], min(signers, rng.choice((2, 2, 3))))):
            clips.append(Clip(f"{sentence}{letter}.mp4", str(sentence), f"pose-{sentence}{letter}", letter))
    return clips


def rule(column="take", **given):
    """The default size (a share of 0.2) unless a count, share or fold is given."""
    size = {} if {"count", "share", "fold"} & set(given) else {"share": 0.2}
    return HeldOutRule(column, **size, **given)


def rows_of(assignment, clips):
    """The release's rows as load_dataset returns them (the fields the conditions read)."""
    return [{"video_file": c.video_file, "split": assignment.split[c.video_file], "sentence_id": int(c.group),
             "take": c.heldout_value, "category": CATEGORIES[int(c.group) % 3], "num_frames": 40 + int(c.group) % 7}
            for c in clips if c.video_file in assignment.split]


# The order and the size of the held-out set

def test_the_order_is_by_the_hash_of_seed_heldout_and_value_then_by_value():
    digest = hashlib.sha256(b"3:heldout:C").digest()
    assert heldout_position("C", 3) == int.from_bytes(digest[:8], "big") / 2 ** 64
    assert heldout_order(["B", "A", "C", "A"], 3) == sorted("ABC", key=lambda v: (heldout_position(v, 3), v))


def test_the_rule_holds_out_the_first_values_of_the_order():
    clips = published(signers=5)
    decided = decide_heldout([c.heldout_value for c in clips], 7, rule(count=2))
    assert decided.held == tuple(heldout_order("ABCDE", 7)[:2]) and set(decided.seen) == set("ABCDE") - set(decided.held)


@pytest.mark.parametrize("n, count, share, k", [
    (5, None, 0.2, 1), (5, None, 0.01, 1), (5, None, 0.3, 2), (5, None, 0.5, 3), (5, None, 0.7, 4),
    (5, None, 0.99, 4), (10, None, 0.25, 3), (2, None, 0.5, 1), (5, 3, None, 3), (5, 1, None, 1),
])
def test_how_many_values_are_held_out(n, count, share, k):
    assert heldout_size(n, count, share) == k


@pytest.mark.parametrize("n", range(2, 11))
def test_the_held_out_set_is_never_empty_and_never_everything(n):
    for share in [i / 100 for i in range(1, 100)]:
        for seed in range(5):
            decided = decide_heldout(LETTERS[:n], seed, rule(share=share))
            assert 1 <= len(decided.held) <= n - 1, (n, share, seed)


def test_fold_i_holds_out_value_i_of_the_order_and_the_folds_cover_every_value_once():
    order = heldout_order("ABCDE", 0)
    held = [decide_heldout("ABCDE", 0, rule(fold=i)).held for i in range(5)]
    assert held == [(v,) for v in order]


def test_a_fold_holds_out_its_value_whatever_the_size():
    assert decide_heldout("ABCDE", 0, rule(fold=2, count=3)).held == (heldout_order("ABCDE", 0)[2],)


def test_the_settings_fold_changes_only_the_fold():
    s = settings.from_options(options(heldout_by="take"))
    assert s.fold(3) == settings.ReleaseSettings(**{**s.__dict__, "heldout_fold": 3})


# The conditions

def test_each_clip_gets_the_condition_of_its_value_and_its_sentence():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    one_axis = assign([Clip(c.video_file, c.group, c.recording) for c in clips], 0, RATIOS)
    held = set(a.heldout.held)
    expected = {(False, "train"): "train", (False, "validation"): "validation", (False, "test"): "test",
                (True, "train"): "test_unseen_signers", (True, "test"): "test_unseen_both",
                (True, "validation"): LEFT_OUT}
    for c in clips:
        assert a.split.get(c.video_file, LEFT_OUT) == expected[(c.heldout_value in held, one_axis.split[c.video_file])]


@pytest.mark.parametrize("seed", range(6))
def test_the_promised_overlaps_are_zero(seed):
    clips = published(sentences=300, signers=5, seed=seed)
    a = assign(clips, seed, RATIOS, heldout=rule())
    rows = rows_of(a, clips)
    found = {o.split: o for o in conditions.overlaps(rows, ALL_SPLITS, ["sentence_id"], "take")}
    for split in ("validation", "test", "test_unseen_both"):
        assert found[split].shared_groups == 0
    for split in HELDOUT_SPLITS:
        assert found[split].shared_values == 0
    assert found["test_unseen_signers"].shared_groups > 0  # its sentences are train's, by design
    assert conditions.broken_promises(list(found.values()), ["sentence_id"], "take") == []


@pytest.mark.parametrize("signers", range(2, 11))
def test_no_held_out_value_is_in_train_or_validation_and_every_unseen_split_has_clips(signers):
    clips = published(sentences=300, signers=signers, seed=signers)
    a = assign(clips, 1, RATIOS, heldout=rule())
    held = set(a.heldout.held)
    assert held
    for c in clips:
        if a.split.get(c.video_file) in ("train", "validation"):
            assert c.heldout_value not in held
    assert {a.split[v] for v in a.split} == set(ALL_SPLITS)


def test_every_clip_is_in_one_split_or_left_out_with_a_reason():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    assert set(a.split).isdisjoint(a.left_out) and set(a.split) | set(a.left_out) == {c.video_file for c in clips}
    assert set(a.split.values()) <= set(ALL_SPLITS)
    assert all(out.reason for out in a.left_out.values())


def test_a_held_out_value_with_a_validation_sentence_is_left_out():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    expected = {c.video_file for c in clips
                if c.heldout_value in a.heldout.held and a.sentence_split[c.video_file] == "validation"}
    assert expected and {v for v, out in a.left_out.items() if out.kind == VALIDATION_SENTENCE} == expected


def test_the_sentence_axis_is_the_one_axis_rule():
    clips = published()
    a = assign(clips, 4, RATIOS, heldout=rule())
    one_axis = assign(clips, 4, RATIOS)
    assert a.sentence_split == one_axis.split


def test_without_a_held_out_axis_the_assignment_and_splits_csv_are_as_before():
    clips = published()
    a = assign(clips, 0, RATIOS)
    assert a.splits == SPLITS and a.heldout is None and a.left_out == {}
    assert set(a.split) == {c.video_file for c in clips}
    columns, rows = splits_csv(a)
    assert columns == ("video_file", "group", "split")
    assert rows == [{"video_file": v, "group": a.group[v], "split": a.split[v]} for v in sorted(a.split)]


def test_adding_videos_of_existing_signers_and_sentences_never_moves_a_released_clip():
    before = published(sentences=200, seed=1)
    after_rule = rule(count=1)
    released = assign(before, 2, RATIOS, heldout=after_rule)
    have = {c.video_file for c in before}
    more = [Clip(c.video_file.replace(".mp4", "_2.mp4"), c.group, c.recording + "-2", c.heldout_value)
            for c in published(sentences=200, seed=9) if c.video_file not in have]
    more += [Clip(f"{s}{letter}.mp4", str(s), f"pose-{s}{letter}", letter) for s in range(1200, 1260) for letter in "AB"]
    grown = before + more
    random.Random(3).shuffle(grown)
    after = assign(grown, 2, RATIOS, heldout=after_rule)
    assert after.heldout.held == released.heldout.held
    assert {v: after.split[v] for v in released.split} == released.split
    assert {v: after.left_out[v].kind for v in released.left_out} == {v: o.kind for v, o in released.left_out.items()}


def test_a_recording_under_a_held_out_and_a_seen_value_is_kept_on_the_seen_side_only():
    clips = published()
    held = decide_heldout([c.heldout_value for c in clips], 0, rule()).held[0]
    seen_clip = next(c for c in clips if c.heldout_value != held)
    copy = Clip(f"{seen_clip.group}{held}_copy.mp4", seen_clip.group, seen_clip.recording, held)
    a = assign(clips + [copy], 0, RATIOS, heldout=rule())
    assert a.split[seen_clip.video_file] == a.sentence_split[seen_clip.video_file]
    assert copy.video_file not in a.split and a.left_out[copy.video_file].kind == COPY_OF_SEEN
    assert seen_clip.video_file in a.left_out[copy.video_file].reason
    [dup] = a.duplicates
    assert dup.left_out == (copy.video_file,) and dup.split == a.split[seen_clip.video_file]


def test_copies_of_a_recording_under_two_held_out_values_share_one_split():
    clips = published(signers=5)
    first, second = decide_heldout("ABCDE", 0, rule(count=2)).held
    one = next(c for c in clips if c.heldout_value == first)
    copy = Clip(f"other_{second}.mp4", "9999", one.recording, second)
    a = assign(clips + [copy], 0, RATIOS, heldout=rule(count=2))
    assert a.split.get(copy.video_file, LEFT_OUT) == a.split.get(one.video_file, LEFT_OUT)


# Pins of both axes

def test_a_two_axis_splits_csv_passed_back_pins_both_axes():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    text = csv_text(*splits_csv(a))
    pins = read_split_pins(text, ["sentence_id"], "take")
    again = assign(clips, 99, (0.5, 0.25, 0.25), pins.groups, rule(count=3, pins=pins.heldout))
    assert again.split == a.split and again.heldout.held == a.heldout.held
    assert again.heldout.unpinned == () and again.unpinned == []


def test_a_two_axis_splits_csv_names_both_axes_and_the_condition():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    columns, rows = splits_csv(a)
    assert columns == ("video_file", "group", "sentence_split", "take", "heldout", "split")
    row = {r["video_file"]: r for r in rows}
    for c in clips:
        r = row[c.video_file]
        assert (r["group"], r["sentence_split"], r["take"]) == (c.group, a.sentence_split[c.video_file], c.heldout_value)
        assert r["heldout"] == ("true" if c.heldout_value in a.heldout.held else "false")
        assert r["split"] == a.split.get(c.video_file, LEFT_OUT)


def test_an_old_split_file_pins_as_before():
    old = "video_file,group,split\nx.mp4,12,test\ny.mp4,13,train\n"
    pins = read_split_pins(old, ["sentence_id"], "take")
    assert pins.groups == read_pins(old, ["sentence_id"]) == {"12": "test", "13": "train"}
    assert pins.heldout is None and pins.for_id() == pins.groups


def test_a_two_axis_splits_csv_pins_only_sentences_in_a_one_axis_release():
    a = assign(published(), 0, RATIOS, heldout=rule())
    assert read_pins(csv_text(*splits_csv(a)), ["sentence_id"]) == {a.group[v]: s for v, s in a.sentence_split.items()}


def test_a_file_may_pin_held_out_values_alone_and_the_others_follow_the_rule():
    pins = read_split_pins("take,heldout\nB,true\nA,false\n", ["sentence_id"], "take")
    assert pins.groups is None and pins.heldout == {"B": True, "A": False}
    decided = decide_heldout("ABCDE", 0, rule(count=1, pins=pins.heldout))
    by_rule = set(heldout_order("ABCDE", 0)[:1])
    assert set(decided.held) == {"B"} | (by_rule - {"A"}) and decided.unpinned == tuple(
        v for v in heldout_order("ABCDE", 0) if v not in "AB")
    assert pins.for_id() == {"groups": None, "heldout": {"B": True, "A": False}}


@pytest.mark.parametrize("text, message", [
    ("signer,heldout,group,sentence_split\nA,true,1,train\n", "has a `heldout` column but no `take` column"),
    ("take,heldout\nA,maybe\n", "neither true nor false (line 2: 'maybe')"),
    ("take,heldout\nA,true\nA,false\n", "pins take values both held out and seen: 'A'"),
    ("group,split\n1,test_unseen_both\n", "pins sentence groups by its `sentence_split` column"),
    ("take,split\nA,train\n", "or, to pin held-out values, the `take` and `heldout` (true/false) columns"),
])
def test_a_bad_two_axis_split_file_says_what_is_wrong(text, message):
    with pytest.raises(splits.SplitFileError) as error:
        read_split_pins(text, ["sentence_id"], "take")
    assert message in str(error.value)


def test_a_fold_and_a_split_file_holding_out_another_value_are_refused():
    order = heldout_order("ABCDE", 0)
    [problem] = heldout_problems("ABCDE", 0, rule(fold=0, pins={order[1]: True}))
    assert f"--heldout_fold=0 holds out take {order[0]}" in problem and f"pins {order[1]} as held out" in problem
    assert heldout_problems("ABCDE", 0, rule(fold=0, pins={order[0]: True, order[1]: False})) == []


def test_pins_that_leave_nothing_held_out_are_refused():
    [problem] = heldout_problems("AB", 0, rule(pins={"A": False, "B": False}))
    assert "no value held out" in problem and "heldout=true" in problem


# Bad input: pure checks, each message says how to fix it

def test_a_single_value_cannot_be_held_out():
    [problem] = heldout_problems(["A", "A"], 0, rule())
    assert "every clip has the same take (A), so nothing can be held out" in problem and "drop --heldout_by" in problem
    with pytest.raises(HeldOutError):
        assign([Clip("1A.mp4", "1", "r1", "A"), Clip("2A.mp4", "2", "r2", "A")], 0, RATIOS, heldout=rule())


def test_a_count_as_large_as_the_number_of_values_is_refused():
    [problem] = heldout_problems("ABC", 0, rule(count=3))
    assert "--heldout_size=3: take has 3 values" in problem and "hold out at most 2" in problem
    assert heldout_problems("ABC", 0, rule(count=2)) == []


def test_a_fold_out_of_range_is_refused():
    [problem] = heldout_problems("ABCDE", 0, rule(fold=5))
    assert "--heldout_fold=5: take has 5 values, so the folds are 0 to 4" in problem


def test_a_held_out_column_the_metadata_lacks_is_named_with_those_it_has():
    [problem] = settings.heldout_column_problems("signer", ["video_file", "sentence_id", "take"])
    assert "no column signer; its columns are video_file, sentence_id, take" in problem
    assert settings.heldout_column_problems("take", ["video_file", "take"]) == []
    assert settings.heldout_column_problems(None, ["video_file"]) == []


def options(**values):
    """The job's options as the command line gives them: the defaults, and `values` on top."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.options import GhslOptions

    return PipelineOptions([f"--{k}={v}" for k, v in values.items() if v is not None]).view_as(GhslOptions)


@pytest.mark.parametrize("values, message", [
    (dict(heldout_by="sentence_id"), "--heldout_by=sentence_id is also in --split_by=sentence_id"),
    (dict(split_by="signer,sentence_id", heldout_by="signer"), "the two axes must be different columns"),
    (dict(heldout_by="signer,take"), "name one column"),
    (dict(heldout_by="group"), "is a column of the release's splits.csv"),
    (dict(heldout_by="signer", heldout_size="0"), "--heldout_size=0: give a count"),
    (dict(heldout_by="signer", heldout_size="1.5"), "must be a whole number"),
    (dict(heldout_by="signer", heldout_size="many"), "or a share of them (0 < share < 1"),
    (dict(heldout_by="signer", heldout_fold="-1"), "--heldout_fold=-1: give the index"),
    (dict(heldout_fold="2"), "--heldout_fold=2 needs --heldout_by"),
    (dict(heldout_by="signer", heldout_size=""), "--heldout_size is empty: give a count"),
])
def test_bad_held_out_options_are_refused_with_how_to_fix(values, message):
    with pytest.raises(settings.SettingsError) as error:
        settings.from_options(options(**values))
    assert message in str(error.value)


def test_the_size_is_a_count_or_a_share():
    assert settings.parse_heldout_size("2") == (2, None) and settings.parse_heldout_size("1") == (1, None)
    assert settings.parse_heldout_size("0.2") == (None, 0.2) and settings.parse_heldout_size("") == (None, None)


def test_without_heldout_by_the_settings_and_their_dict_are_as_before():
    s = settings.from_options(options())
    assert (s.heldout_by, s.heldout_count, s.heldout_share, s.heldout_fold) == (None, None, None, None)
    assert s.splits == SPLITS
    assert s.as_dict() == {"split_by": ["sentence_id"], "split_ratios": [0.8, 0.1, 0.1], "split_seed": 0,
                           "split_file": None, "release_dtype": "float32", "release_shard_bytes": 256 * 1024 * 1024}


def test_with_heldout_by_the_dict_records_the_axis_and_its_size_or_fold():
    s = settings.from_options(options(heldout_by="take"))
    assert s.splits == ALL_SPLITS == SPLITS + ("test_unseen_signers", "test_unseen_both")
    assert {k: v for k, v in s.as_dict().items() if k.startswith("heldout")} == {"heldout_by": "take",
                                                                                 "heldout_size": 0.2}
    counted = settings.from_options(options(heldout_by="take", heldout_size="2")).as_dict()
    assert counted["heldout_size"] == 2
    fold = settings.from_options(options(heldout_by="take", heldout_fold="1")).as_dict()
    assert fold["heldout_fold"] == 1 and "heldout_size" not in fold


def test_the_rule_comes_from_the_settings():
    s = settings.from_options(options(heldout_by="take", heldout_size="2"))
    assert HeldOutRule.from_settings(s, {"A": True}) == HeldOutRule("take", 2, None, None, {"A": True})
    assert HeldOutRule.from_settings(settings.from_options(options())) is None


# What the card says, measured from the rows

def test_counts_cover_the_five_splits_and_not_the_clips_left_out():
    clips = published()
    a = assign(clips, 0, RATIOS, heldout=rule())
    counts = splits.count(a, {c.video_file: "c" for c in clips}, {c.video_file: 10 for c in clips})
    assert tuple(counts.clips) == ALL_SPLITS and sum(counts.clips.values()) == len(clips) - len(a.left_out)
    assert counts.total_groups == len({a.group[v] for v in a.split})


def test_an_empty_unseen_split_is_named_with_why():
    clips = [Clip(f"{s}{letter}.mp4", str(s), f"r{s}{letter}", letter) for s in range(40) for letter in "AB"]
    a = assign(clips, 0, (1.0, 0.0, 0.0), heldout=rule())
    small = dict(splits.count(a, {c.video_file: "c" for c in clips}, {c.video_file: 1 for c in clips}).small(
        (1.0, 0.0, 0.0)))
    assert small["test_unseen_both"].startswith("empty: no clip of a held-out value has a test sentence")
    assert small["test"] == "empty: its ratio is 0"


def test_the_summary_counts_clips_frames_sentences_values_and_categories_per_split():
    rows = [{"split": "train", "sentence_id": 1, "take": "A", "category": "x", "num_frames": 10},
            {"split": "train", "sentence_id": 1, "take": "B", "category": "x", "num_frames": 5},
            {"split": "train", "sentence_id": 2, "take": "B", "category": "y", "num_frames": 1},
            {"split": "test_unseen_both", "sentence_id": 3, "take": "C", "category": "y", "num_frames": 7}]
    found = {s.split: s for s in conditions.summarize(rows, ALL_SPLITS, "take")}
    assert found["train"] == conditions.SplitSummary("train", 3, 16, 2, 2, 2)
    assert found["test_unseen_both"] == conditions.SplitSummary("test_unseen_both", 1, 7, 1, 1, 1)
    assert found["validation"] == conditions.SplitSummary("validation", 0, 0, 0, 0, 0)


def test_a_broken_promise_is_reported_from_the_rows():
    rows = [{"split": "train", "sentence_id": 1, "take": "A"}, {"split": "test_unseen_both", "sentence_id": 1,
                                                                "take": "A"}]
    found = conditions.overlaps(rows, ALL_SPLITS, ["sentence_id"], "take")
    assert conditions.broken_promises(found, ["sentence_id"], "take") == [
        "test_unseen_both shares 1 `sentence_id` group(s) with train", "test_unseen_both shares 1 take value(s) with train"]


def test_the_card_section_shows_the_rule_the_conditions_the_overlaps_and_the_clips_left_out():
    clips = published()
    r = rule()
    a = assign(clips, 0, RATIOS, heldout=r)
    text = conditions.conditions_markdown(rows_of(a, clips), ALL_SPLITS, ["sentence_id"], "take",
                                          list(a.left_out.values()), a.heldout, r, 0)
    assert f"Held out: `take` (--heldout_by) = `{a.heldout.held[0]}`" in text and "--heldout_size=0.2" in text
    for split in ALL_SPLITS:
        assert f"| {split} |" in text
    assert "| test_unseen_both | 0, promised | 0, promised |" in text
    assert f"**Left out.** {len(a.left_out)} clip(s)" in text


def test_a_one_axis_card_section_has_no_held_out_columns():
    clips = published()
    a = assign(clips, 0, RATIOS)
    rows = rows_of(a, clips)
    text = conditions.conditions_markdown(rows, SPLITS, ["sentence_id"])
    assert "| test | 0, promised |" in text and "take" not in text and "Left out" not in text


def csv_text(columns, rows):
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
    return "\n".join(lines) + "\n"
