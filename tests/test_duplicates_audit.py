"""The audit over a run's saved clips (transforms/duplicates/audit.py): its inputs' digest, the links it keeps and
reuses, its report rows. Synthetic signatures (bench/duplicates.py's movements); no Beam, no MediaPipe."""
import json

import numpy as np
import pytest

from bench import duplicates as synthetic
from transforms.duplicates import audit, links, signature
from transforms.duplicates.settings import audit_settings


def stored(tracks) -> str:
    xy, fps = tracks
    return signature.encode(signature.from_tracks(xy, np.ones(xy.shape[:2], bool),
                                                  np.ones(signature.POINTS, np.float32), fps))


@pytest.fixture(scope="module")
def clips():
    """Four originals, a near copy of the first, an exact copy of the second (the same .pose), and a clip without
    a signature."""
    rng = np.random.default_rng(3)
    originals = [synthetic.Original(rng) for _ in range(4)]
    signed = [stored(synthetic.original_tracks(rng, o)) for o in originals]
    found = [audit.AuditClip(f"o{i}.mp4", str(i), f"Sentence {i}.", f"pose{i}", s) for i, s in enumerate(signed)]
    found.append(audit.AuditClip("p_copy.mp4", "10", "sentence 0", "pose-copy",
                                 stored(synthetic.copy_tracks(rng, originals[0]))))
    found.append(audit.AuditClip("q_same.mp4", "11", "Sentence 1!", "pose1", signed[1]))
    found.append(audit.AuditClip("r_still.mp4", "12", "Sentence 1?", "pose-still", None))
    return found


def test_the_audit_links_the_copies_and_reports_one_row_each(clips):
    found = audit.audit(clips)
    assert found.searched and found.clips == 7
    assert found.families() == [("o0.mp4", "p_copy.mp4"), ("o1.mp4", "q_same.mp4")]
    rows = {r["video_file"]: r for r in audit.duplicate_rows(found)}
    assert (rows["q_same.mp4"]["kind"], rows["q_same.mp4"]["similarity"]) == ("exact", 1.0)
    assert rows["p_copy.mp4"]["kind"] == "near" and rows["p_copy.mp4"]["duplicate_of_sentence_id"] == "0"
    assert found.family_of() == {"o0.mp4": "o0.mp4", "p_copy.mp4": "o0.mp4", "o1.mp4": "o1.mp4",
                                 "q_same.mp4": "o1.mp4"}


def test_an_exact_copy_is_one_exact_link_not_also_a_near_one(clips):
    found = audit.audit(clips)
    assert [(l.first, l.second, l.kind) for l in found.links if "q_same.mp4" in (l.first, l.second)] == [
        ("o1.mp4", "q_same.mp4", links.EXACT)]


def test_text_groups_join_ids_of_one_sentence_but_not_a_question(clips):
    found = audit.audit(clips)
    assert [g.sentence_ids for g in found.text_groups] == [("0", "10"), ("1", "11")]
    assert audit.text_key_of(found.text_groups) == {"0": "0", "10": "0", "1": "1", "11": "1"}


def test_the_digest_names_every_input_of_the_links_and_nothing_else(clips):
    digest = audit.inputs_sha256(clips)
    assert audit.inputs_sha256(list(reversed(clips))) == digest
    renamed = [audit.AuditClip(c.video_file, "other id", "other text", c.digest, c.signature) for c in clips]
    assert audit.inputs_sha256(renamed) == digest   # sentence ids and texts change rows, not links
    assert audit.inputs_sha256(clips[:-1]) != digest
    other = [audit.AuditClip(c.video_file, c.sentence_id, c.sentence, c.digest + "x", c.signature) for c in clips]
    assert audit.inputs_sha256(other) != digest


def test_kept_links_are_reused_only_for_the_same_inputs(clips, monkeypatch):
    found = audit.audit(clips)
    kept = audit.read_links_json(audit.links_json(found).encode())
    assert kept == (found.inputs_sha256, list(found.links))

    def no_search(*args, **kwargs):
        raise AssertionError("searched although the links were kept for these clips")

    monkeypatch.setattr(links, "near_links", no_search)
    again = audit.audit(clips, kept)
    assert not again.searched and again.links == found.links and again.rows == found.rows
    with pytest.raises(AssertionError):
        audit.audit(clips[:-1], kept)   # other clips: searched again


def test_links_kept_by_another_audit_or_damaged_are_not_read():
    settings = audit_settings()
    text = audit.links_json(audit.Audit((), (), (), {}, "d", 0, True))
    assert audit.read_links_json(text.encode()) == ("d", [])
    assert audit.read_links_json(text.replace(str(settings["threshold"]), "0.5").encode()) is None
    assert audit.read_links_json(b"{not json") is None and audit.read_links_json(None) is None


def test_kept_links_changed_after_they_were_written_are_found_again(clips):
    found = audit.audit(clips)
    assert found.links
    text = audit.links_json(found)
    kept = json.loads(text)
    kept["links"][0][3] = round(kept["links"][0][3] - 0.25, 4)   # a similarity edited (or damaged)
    assert audit.read_links_json(json.dumps(kept).encode()) is None
    kept = json.loads(text)
    kept["links"].pop()                                          # a link lost
    assert audit.read_links_json(json.dumps(kept).encode()) is None
    assert audit.read_links_json(text.encode()) == (found.inputs_sha256, list(found.links))
