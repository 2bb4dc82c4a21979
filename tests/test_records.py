"""Result records: exact round trip, fingerprints, and source identity of awkward file names."""
import numpy as np

from tests.conftest import LANDMARKS

from transforms.common import storage
from transforms.store import records
from transforms.store.metadata import ClipRow
from transforms.store.results import ClipResult, Measures, Outputs
from transforms.common.moments import moments_of

FEATURES = dict(face_downsample=5, min_frames=48, min_valid_ratio=0.45, visibility_threshold=0.55,
                motion_keep_threshold=1e-3, motion_rejection_threshold=7.5e-4, ema_alpha=0.2, keep_low_quality=False)


def test_a_record_gives_back_exactly_what_was_published(tmp_path):
    row = ClipRow(line=3, video_file="a/b.mp4", sentence_id="7", sentence="Hi", category="c", extra={"signer": "A"})
    frames = np.random.default_rng(0).normal(size=(30, 540)).astype(np.float32)
    measures = Measures(frames_decoded=31, num_frames=30, frame_feature_dim=540, detection_ratio=30 / 31,
                        mean_visibility=0.123456789, motion_mean=1 / 3, motion_p50=0.1, motion_p95=0.2, motion_max=0.3)
    result = ClipResult(row, "success", "", measures, moments=moments_of(frames))
    path = str(tmp_path / "r.json")
    landmarks = {"fingerprint": "lm", "sha256": "ab" * 32, "size": 1000, "frames": 31}
    record = records.to_record(result, {"size": 5, "updated": 1.5, "checksum": None}, landmarks, "fp")
    storage.write_text(path, records.to_json(record))
    listed = storage.object_info(path)
    back = records.result_from(records.read(path), row, Outputs(record=listed))
    assert (back.status, back.error, back.measures, back.row) == (result.status, result.error, result.measures, row)
    assert back.record["landmarks"] == landmarks and back.record_object == listed
    assert back.moments.count == 30 and back.origin == "reused"
    np.testing.assert_array_equal(back.moments.total, result.moments.total)     # bit for bit
    np.testing.assert_array_equal(back.moments.total_sq, result.moments.total_sq)


def test_unreadable_or_foreign_records_are_ignored(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    assert records.read(str(tmp_path / "bad.json")) is None
    assert records.read(str(tmp_path / "other.json")) is None
    assert records.read(str(tmp_path / "absent.json")) is None


def test_landmark_fingerprint_changes_with_any_landmark_option():
    base = records.landmark_fingerprint(LANDMARKS)
    assert records.landmark_fingerprint(dict(LANDMARKS)) == base
    for name, value in (("model_complexity", 2), ("min_detection_confidence", 0.6), ("refine_face_landmarks", True),
                        ("smooth_landmarks", False)):
        assert records.landmark_fingerprint({**LANDMARKS, name: value}) != base, name


def test_feature_fingerprint_changes_with_any_feature_option_and_with_the_landmarks():
    landmarks = records.landmark_fingerprint(LANDMARKS)
    base = records.feature_fingerprint(FEATURES, landmarks)
    assert records.feature_fingerprint(dict(FEATURES), landmarks) == base
    for name, value in (("ema_alpha", 0.3), ("min_frames", 47), ("face_downsample", 4), ("keep_low_quality", True)):
        assert records.feature_fingerprint({**FEATURES, name: value}, landmarks) != base, name
    other = records.landmark_fingerprint({**LANDMARKS, "model_complexity": 2})
    assert records.feature_fingerprint(FEATURES, other) != base


def test_records_of_the_layout_before_the_landmark_store_are_not_used(tmp_path):
    (tmp_path / "old.json").write_text('{"format": "ghsl-result-record/1", "status": "success"}')
    assert records.read(str(tmp_path / "old.json")) is None


def test_listings_and_source_identities_take_pattern_characters_literally(tmp_path):
    (tmp_path / "clip[1].mp4").write_bytes(b"a" * 10)
    (tmp_path / "clip1.mp4").write_bytes(b"b" * 20)
    listed = records.storage.list_objects(str(tmp_path))
    assert sorted(listed) == ["clip1.mp4", "clip[1].mp4"]
    assert records.source_identity(listed["clip[1].mp4"])["size"] == 10
    assert records.source_identity(records.storage.object_info(str(tmp_path / "clip[1].mp4")))["size"] == 10
    assert records.storage.object_info(str(tmp_path / "clip*.mp4")) is None
    assert records.source_identity(None) is None


def test_a_bucket_objects_update_time_is_what_utc_workers_recorded_whatever_the_launchers_time_zone(monkeypatch):
    """Plans are made on the launcher now; a laptop with daylight saving must not see every video changed."""
    import datetime
    import time

    from apache_beam.io.gcp.gcsio import GcsIO

    updated = datetime.datetime(2026, 7, 1, 7, 47, 40, 714384, tzinfo=datetime.timezone.utc)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    recorded = GcsIO._updated_to_seconds(updated)  # what records made on Dataflow's workers hold
    try:
        for zone in ("UTC", "Africa/Accra", "Europe/Berlin", "America/New_York"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            assert records.storage.updated_seconds(updated) == recorded, zone
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
