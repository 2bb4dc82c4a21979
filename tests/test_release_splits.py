"""The split rule (transforms/release/splits.py) and the release options (settings.py), without Beam or MediaPipe."""
import hashlib
import random

import pytest

from transforms.release import settings, splits
from transforms.release.splits import Clip, assign, group_key, position, read_pins, rule_split

RATIOS = (0.8, 0.1, 0.1)


def clips_for(groups, per_group=3, prefix="v"):
    """per_group distinct recordings per group."""
    return [Clip(f"{prefix}{g}_{i}.mp4", str(g), f"rec-{prefix}{g}-{i}") for g in groups for i in range(per_group)]


def test_position_is_the_documented_hash_of_seed_and_group():
    digest = hashlib.sha256(b"7:1042").digest()
    assert position("1042", 7) == int.from_bytes(digest[:8], "big") / 2 ** 64
    assert 0 <= position("1042", 7) < 1 and position("1042", 8) != position("1042", 7)


def test_rule_split_follows_the_cumulative_ratios():
    for group in map(str, range(300)):
        u = position(group, 0)
        expected = "train" if u < 0.8 else "validation" if u < 0.9 else "test"
        assert rule_split(group, 0, RATIOS) == expected


def test_shares_come_close_to_the_ratios_with_many_groups():
    a = assign(clips_for(range(4000), per_group=1), seed=0, ratios=RATIOS)
    shares = {s: sum(1 for v in a.split.values() if v == s) / 4000 for s in settings.SPLITS}
    assert shares["train"] == pytest.approx(0.8, abs=0.02)
    assert shares["validation"] == pytest.approx(0.1, abs=0.015) and shares["test"] == pytest.approx(0.1, abs=0.015)


def test_a_zero_ratio_leaves_its_split_empty():
    a = assign(clips_for(range(500), per_group=1), seed=0, ratios=(0.9, 0.1, 0.0))
    assert "test" not in set(a.split.values()) and {"train", "validation"} == set(a.split.values())


def test_no_group_is_in_two_splits():
    a = assign(clips_for(range(200), per_group=4), seed=3, ratios=RATIOS)
    by_group = {}
    for video, split in a.split.items():
        by_group.setdefault(a.group[video], set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())


def test_adding_groups_and_videos_never_moves_a_released_clip():
    before = assign(clips_for(range(100)), seed=5, ratios=RATIOS)
    grown = clips_for(range(100)) + clips_for(range(50, 250), prefix="new")  # more videos of old and new groups
    random.Random(1).shuffle(grown)
    after = assign(grown, seed=5, ratios=RATIOS)
    assert {v: after.split[v] for v in before.split} == before.split


def test_the_seed_changes_the_split():
    a = assign(clips_for(range(100), 1), seed=0, ratios=RATIOS)
    b = assign(clips_for(range(100), 1), seed=1, ratios=RATIOS)
    assert a.split != b.split


def test_two_copies_of_a_recording_in_two_groups_end_in_one_split():
    groups = [str(g) for g in range(400)]
    train_group = next(g for g in groups if rule_split(g, 0, RATIOS) == "train")
    test_group = next(g for g in groups if rule_split(g, 0, RATIOS) == "test")
    clips = [Clip("a.mp4", train_group, "same"), Clip("b.mp4", test_group, "same"),
             Clip("a2.mp4", train_group, "other-a"), Clip("b2.mp4", test_group, "other-b")]
    a = assign(clips, seed=0, ratios=RATIOS)
    decider = min((train_group, test_group), key=lambda g: position(g, 0))
    expected = rule_split(decider, 0, RATIOS)
    assert {a.split[v] for v in ("a.mp4", "b.mp4", "a2.mp4", "b2.mp4")} == {expected}
    [dup] = a.duplicates
    assert dup.video_files == ("a.mp4", "b.mp4") and dup.split == expected
    [moved] = a.moved
    assert moved.group == ({train_group, test_group} - {decider}).pop() and moved.decided_by == decider


def test_recordings_link_groups_transitively():
    clips = [Clip("a.mp4", "1", "r1"), Clip("b.mp4", "2", "r1"), Clip("c.mp4", "2", "r2"), Clip("d.mp4", "3", "r2"),
             Clip("e.mp4", "4", "r3")]
    for seed in range(20):
        a = assign(clips, seed=seed, ratios=(0.34, 0.33, 0.33))
        assert len({a.split[v] for v in ("a.mp4", "b.mp4", "c.mp4", "d.mp4")}) == 1
        assert a.split["e.mp4"] == rule_split("4", seed, (0.34, 0.33, 0.33))


def test_a_pinned_group_keeps_its_pin_and_others_follow_the_rule():
    clips = clips_for(range(30), per_group=1)
    pins = {"3": "test", "4": "validation"}
    a = assign(clips, seed=0, ratios=RATIOS, pins=pins)
    assert a.split["v3_0.mp4"] == "test" and a.split["v4_0.mp4"] == "validation"
    assert a.split["v5_0.mp4"] == rule_split("5", 0, RATIOS)
    assert a.pinned_groups == 2 and sorted(a.unpinned) == sorted(str(g) for g in range(30) if g not in (3, 4))


def test_a_pinned_group_decides_for_the_groups_sharing_its_recordings():
    groups = [str(g) for g in range(400)]
    unpinned = min(groups, key=lambda g: position(g, 0))  # would decide on position alone
    clips = [Clip("old.mp4", "pinned", "r"), Clip("copy.mp4", unpinned, "r")]
    a = assign(clips, seed=0, ratios=RATIOS, pins={"pinned": "validation"})
    assert a.split == {"old.mp4": "validation", "copy.mp4": "validation"}


def test_without_a_split_file_nothing_is_listed_as_unpinned():
    assert assign(clips_for(range(3)), seed=0, ratios=RATIOS).unpinned is None


# --- earlier releases, sentence texts, --drop_duplicates -------------------------------------------------------

def first_group(split, ratios=RATIOS, seed=0, start=0):
    return next(str(g) for g in range(start, 100_000) if rule_split(str(g), seed, ratios) == split)


def test_a_group_an_earlier_release_placed_keeps_its_split_and_a_new_copy_joins_it():
    ratios = (0.4, 0.3, 0.3)
    released = first_group("test", ratios)
    # A new group placed before it by position, whose own split is another: the rule alone would move the family.
    newcomer = next(str(g) for g in range(100_000) if position(str(g), 0) < position(released, 0)
                    and rule_split(str(g), 0, ratios) != "test")
    clips = [Clip("old.mp4", released, "r"), Clip("new_copy.mp4", newcomer, "r")]
    assert set(assign(clips, seed=0, ratios=ratios).split.values()) == {rule_split(newcomer, 0, ratios)}
    a = assign(clips, seed=0, ratios=ratios, released={released: "test"})
    assert a.split == {"old.mp4": "test", "new_copy.mp4": "test"} and a.released_groups == 1


def test_an_earlier_releases_split_holds_over_the_rule_and_a_pin_over_both():
    group = first_group("train")
    clips = [Clip("a.mp4", group, "ra"), Clip("b.mp4", "pinned", "rb")]
    a = assign(clips, seed=0, ratios=RATIOS, pins={"pinned": "test"}, released={group: "validation", "pinned": "train"})
    assert a.split == {"a.mp4": "validation", "b.mp4": "test"} and a.moved == []


def test_a_family_joining_groups_released_in_two_splits_takes_the_best_placed_ones_split():
    ratios = (0.4, 0.3, 0.3)
    a_group, b_group = first_group("train", ratios), first_group("test", ratios)
    clips = [Clip("a.mp4", a_group, "family"), Clip("b.mp4", b_group, "family")]
    a = assign(clips, seed=0, ratios=ratios, released={a_group: "train", b_group: "test"})
    decider = min((a_group, b_group), key=lambda g: position(g, 0))
    assert set(a.split.values()) == {"train" if decider == a_group else "test"}
    [moved] = a.moved
    assert moved.decided_by == decider and moved.own_split in ("train", "test")


def test_sentence_ids_with_one_text_are_assigned_as_one_group():
    ratios = (0.4, 0.3, 0.3)
    one, other = first_group("train", ratios), first_group("test", ratios)
    clips = [Clip("a.mp4", one, "ra", text_key=one), Clip("b.mp4", other, "rb", text_key=one),
             Clip("c.mp4", other, "rc", text_key=one)]
    a = assign(clips, seed=0, ratios=ratios)
    assert len(set(a.split.values())) == 1 and a.duplicates == []
    alone = assign([Clip(c.video_file, c.group, c.recording) for c in clips], seed=0, ratios=ratios)
    assert len(set(alone.split.values())) == 2


def test_drop_copies_keeps_the_earliest_clip_of_each_family_and_lists_the_others():
    clips = [Clip("b.mp4", "1", "fam"), Clip("a.mp4", "2", "fam"), Clip("c.mp4", "3", "fam"), Clip("d.mp4", "4", "x")]
    a = splits.drop_copies(assign(clips, seed=0, ratios=RATIOS))
    assert sorted(a.split) == ["a.mp4", "d.mp4"] and a.dropped == {"b.mp4": "a.mp4", "c.mp4": "a.mp4"}
    columns, rows = splits.splits_csv(a)
    assert [r["video_file"] for r in rows] == ["a.mp4", "d.mp4"]


def test_moved_rows_compare_an_earlier_release_with_the_new_splits():
    from transforms.release.history import Previous, moved_rows

    previous = Previous("0123", {"a.mp4": "train", "b.mp4": "test", "gone.mp4": "test", "c.mp4": "left_out"}, {}, {})
    assert moved_rows(previous, {"a.mp4": "train", "b.mp4": "train"}, {"c.mp4": object()}) == (
        ("b.mp4", "test", "train"),)
    assert moved_rows(None, {"a.mp4": "train"}, {}) == ()


def test_a_group_of_several_columns_is_the_json_list_of_their_values():
    row = {"signer": "A", "take": "2", "sentence_id": "9"}
    assert group_key(row, ["signer", "take"]) == '["A", "2"]'
    assert group_key(row, ["sentence_id"]) == "9"


def test_a_split_file_with_a_group_column_or_the_split_by_columns():
    assert read_pins("video_file,group,split\nx.mp4,12,test\ny.mp4,12,test\n", ["sentence_id"]) == {"12": "test"}
    assert read_pins("sentence_id,split\n12,train\n13,validation\n", ["sentence_id"]) == {"12": "train",
                                                                                         "13": "validation"}
    assert read_pins("signer,take,split\nA,1,test\n", ["signer", "take"]) == {'["A", "1"]': "test"}


@pytest.mark.parametrize("text, message", [
    ("group,split\n1,training\n", "names splits that do not exist (line 2: 'training')"),
    ("group,split\n1,train\n1,test\n", "pins groups to two splits"),
    ("id,split\n1,train\n", "needs a `split` column and either a `group` column"),
    ("group\n1\n", "needs a `split` column"),
])
def test_a_bad_split_file_says_what_is_wrong(text, message):
    with pytest.raises(splits.SplitFileError) as error:
        read_pins(text, ["sentence_id"])
    assert message in str(error.value)


def test_counts_name_empty_and_tiny_splits():
    a = assign(clips_for(range(12), per_group=2), seed=0, ratios=(0.5, 0.5, 0.0))
    counts = splits.count(a, {v: "c" for v in a.split}, {v: 10 for v in a.split})
    assert sum(counts.clips.values()) == 24 and sum(counts.frames.values()) == 240
    assert counts.by_category == {"c": counts.clips}
    small = dict(counts.small((0.5, 0.5, 0.0)))
    assert small["test"] == "empty: its ratio is 0"
    assert small["train"].startswith(f"tiny: {counts.groups['train']} group(s)")


def options(**values):
    """The job's options as the command line gives them: the defaults, and `values` on top."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.options import GhslOptions

    return PipelineOptions([f"--{k}={v}" for k, v in values.items() if v is not None]).view_as(GhslOptions)


def test_settings_from_the_defaults():
    s = settings.from_options(options())
    assert (s.split_by, s.ratios, s.seed, s.dtype, s.shard_bytes) == (("sentence_id",), (0.8, 0.1, 0.1), 0,
                                                                     "float32", 256 * 1024 * 1024)


@pytest.mark.parametrize("ratios, message", [
    ("0.8,0.1", "give three numbers"),
    ("0.8,0.3,-0.1", "cannot be negative"),
    ("0.8,0.1,0.2", "sums to 1.1: the three ratios must sum to 1"),
    ("a,b,c", "give three numbers"),
])
def test_bad_ratios_are_refused_with_how_to_fix(ratios, message):
    with pytest.raises(settings.SettingsError) as error:
        settings.from_options(options(split_ratios=ratios))
    assert message in str(error.value) and "--split_ratios" in str(error.value)


def test_split_by_columns_the_metadata_lacks_are_named_with_those_it_has():
    [problem] = settings.column_problems(["signer", "sentence_id"], ["video_file", "sentence_id", "take"], ["split"])
    assert "no column signer" in problem and "its columns are video_file, sentence_id, take" in problem


def test_a_metadata_column_named_like_a_release_field_is_refused():
    [problem] = settings.column_problems(["sentence_id"], ["sentence_id", "split"], ["split", "features"])
    assert "split" in problem and "rename" in problem
