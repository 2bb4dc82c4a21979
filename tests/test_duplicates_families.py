"""Families of duplicate recordings: exact and near links joined by one union-find, and the report rows."""
import random
import re

import pytest

from transforms.duplicates import families, settings
from transforms.duplicates.links import EXACT, NEAR, Link, exact_links, link


def near(a, b, similarity, mirrored=False):
    return link(a, b, NEAR, similarity, mirrored)


def test_copies_of_one_file_are_linked_to_the_earliest_name():
    digests = {"b.mp4": "x", "a.mp4": "x", "c.mp4": "x", "d.mp4": "y"}
    assert exact_links(digests) == [Link("a.mp4", "b.mp4", EXACT, 1.0), Link("a.mp4", "c.mp4", EXACT, 1.0)]


def test_a_link_names_its_clips_in_order():
    assert link("b", "a", NEAR, 0.9) == Link("a", "b", NEAR, 0.9)
    with pytest.raises(ValueError):
        Link("b", "a", NEAR, 0.9)


def test_links_through_a_shared_clip_make_one_family_whatever_their_order():
    chain = [near("c", "d", 0.8), near("b", "c", 0.9), near("x", "y", 0.7)]
    for _ in range(5):
        random.shuffle(chain)
        assert families.families(chain) == [("b", "c", "d"), ("x", "y")]


def test_exact_and_near_links_join_into_the_same_families():
    joined = exact_links({"v1": "h", "v3": "h"}) + [near("v2", "v3", 0.8)]
    assert families.families(joined) == [("v1", "v2", "v3")]


def test_each_copy_is_reported_against_the_earliest_file_with_its_strongest_link():
    rows = families.duplicate_rows(
        [near("b", "c", 0.95), near("a", "c", 0.7, mirrored=True), near("a", "b", 0.9)] + exact_links({"a": "h", "d": "h"}),
        {"a": "1", "b": "1", "c": "2", "d": "1"})
    assert rows == [
        families.Duplicate("b", "a", "c", NEAR, 0.95, False, True),
        families.Duplicate("c", "a", "b", NEAR, 0.95, False, False),
        families.Duplicate("d", "a", "a", EXACT, 1.0, False, True),
    ]


def test_an_exact_link_is_reported_before_a_near_one():
    rows = families.duplicate_rows([near("a", "b", 0.99), link("a", "b", EXACT, 1.0)], {"a": "1", "b": "1"})
    assert [(r.kind, r.similarity) for r in rows] == [(EXACT, 1.0)]


def test_a_clip_reached_only_through_another_copy_names_that_copy():
    rows = families.duplicate_rows([near("a", "b", 0.9), near("b", "c", 0.8)], {"a": "1", "b": "1", "c": "1"})
    assert [(r.video_file, r.duplicate_of, r.linked_to) for r in rows] == [("b", "a", "a"), ("c", "a", "b")]


def test_a_linked_clip_without_a_sentence_id_is_refused():
    with pytest.raises(ValueError, match="no sentence id for linked clips b"):
        families.duplicate_rows([near("a", "b", 0.9)], {"a": "1"})


def test_no_links_no_families():
    assert families.families([]) == [] and families.duplicate_rows([], {}) == []


def test_the_audit_has_a_version_and_a_threshold_for_a_releases_inputs():
    assert re.fullmatch(r"dup-audit/\d+", settings.VERSION)
    recorded = settings.audit_settings()
    assert recorded["version"] == settings.VERSION and recorded["threshold"] == settings.THRESHOLD
    assert 0 < settings.THRESHOLD < 1
