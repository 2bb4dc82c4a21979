"""Training batches from release rows (transforms/release/batches.py): NumPy only, no framework needed."""
import subprocess
import sys

import numpy as np

from transforms.release.batches import Standardizer, collate, fit_length, training_batch

DIM = 6  # 4 landmark columns of two parts, then the 2 parts' presence columns


def clip(frames: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(frames, DIM)).astype(np.float32)
    x[:, 4:] = 1.0
    return x


V1 = Standardizer(mean=np.full(DIM, 0.5, np.float32), std=np.full(DIM, 2.0, np.float32), presence=None)
V2 = Standardizer(mean=np.full(DIM, 0.5, np.float32), std=np.full(DIM, 2.0, np.float32),
                  presence=np.array([4, 4, 5, 5, -1, -1]))


def test_a_long_clip_keeps_its_middle_frames():
    x = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, DIM), np.float32)
    fixed, mask = fit_length(x, 64)
    assert fixed[0, 0] == 18 and fixed[-1, 0] == 81 and mask.all()


def test_a_short_clip_is_padded_at_the_end_and_the_mask_says_where():
    fixed, mask = fit_length(clip(10), 64)
    assert fixed.shape == (64, DIM) and mask[:10].all() and not mask[10:].any()
    assert np.all(fixed[10:] == 0)


def test_v1_standardizes_every_column():
    x = clip(5)
    np.testing.assert_allclose(V1(x), (x - 0.5) / 2.0)


def test_v2_keeps_absent_parts_at_zero_and_the_presence_columns_as_they_are():
    x = clip(5)
    x[2, 2:4], x[2, 5] = 0.0, 0.0  # the second part not seen in frame 2
    out = V2(x)
    assert np.all(out[2, 2:4] == 0) and out[2, 5] == 0
    np.testing.assert_allclose(out[:, :2], (x[:, :2] - 0.5) / 2.0)
    np.testing.assert_allclose(out[[0, 1, 3, 4], 2:4], (x[[0, 1, 3, 4], 2:4] - 0.5) / 2.0)
    np.testing.assert_array_equal(out[:, 4:], x[:, 4:])


def test_a_batch_from_a_list_of_rows_as_a_data_loader_hands_them():
    rows = [{"features": clip(10, 1), "sentence_id": 3, "sentence": "a"},
            {"features": clip(80, 2), "sentence_id": 4, "sentence": "b"}]
    batch = collate(V1)(rows)
    assert batch["features"].shape == (2, 64, DIM) and batch["features"].dtype == np.float32
    np.testing.assert_array_equal(batch["length"], [10, 64])
    assert batch["mask"][0].sum() == 10 and np.all(batch["features"][0, 10:] == 0)  # padding stays 0
    np.testing.assert_allclose(batch["features"][1], V1(rows[1]["features"][8:72]), rtol=1e-6)
    np.testing.assert_array_equal(batch["sentence_id"], [3, 4])
    assert batch["sentence"] == ["a", "b"]


def test_a_batch_from_a_slice_of_columns_and_from_one_row():
    columns = {"features": [clip(3, 1), clip(5, 2)], "video_file": ["a.mp4", "b.mp4"]}
    batch = training_batch(columns, V2, target_len=4)
    assert batch["features"].shape == (2, 4, DIM) and batch["video_file"] == ["a.mp4", "b.mp4"]
    single = training_batch({"features": clip(3, 1), "video_file": "a.mp4"}, V2, target_len=4)
    np.testing.assert_array_equal(single["features"][0], batch["features"][0])


def test_float16_rows_come_out_float32():
    batch = training_batch([{"features": clip(3).astype(np.float16)}], V1, target_len=4)
    assert batch["features"].dtype == np.float32


def test_importing_it_loads_no_framework_and_not_beam():
    """A training job may have neither; the import is checked in a fresh interpreter."""
    code = ("import sys, transforms.release.batches; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'apache_beam') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
