"""Training batches from a release's rows: a fixed number of frames, a frame mask, standardized features.

NumPy only: importing it loads neither Beam nor a deep learning framework. Rows are
what `datasets` gives with `.with_format("numpy")` (one row, a list of rows, or
a slice such as `ds[0:32]`, a dict of columns), pandas rows as dicts, or any
mapping with a `features` array of shape (num_frames, dim).

    from datasets import load_dataset
    from transforms.release.batches import Standardizer, training_batch, collate

    ds = load_dataset(RELEASE)["train"].with_format("numpy")
    standardize = Standardizer.from_release(RELEASE)
    batch = training_batch(ds[0:32], standardize)
    batch["features"]   # (32, 64, dim) float32
    batch["mask"]       # (32, 64) bool: True on real frames, False on padding

    # PyTorch: torch.utils.data.DataLoader(ds, batch_size=32, collate_fn=collate(standardize)),
    #          then torch.from_numpy(batch["features"]).
    # TensorFlow: tf.data.Dataset.from_generator over training_batch(...) of slices.

Length: a clip longer than target_len keeps its middle target_len frames
(centre crop); a shorter one is padded with zero frames at the end, which the
mask marks. 64 is the old notebook's TARGET_SEQ_LEN.

Standardizing uses the release's stats.npz (train split only): v1,
(x − mean) / std on every column; v2, present · (x − mean) / std on every
landmark column, where present is the column's presence column (1 seen, 0 not;
feature_schema.json's `column_presence`), so a part that was not seen stays 0
instead of becoming −mean/std; the presence columns are kept as they are.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

TARGET_LEN = 64
FEATURES = "features"

Rows = Union[Mapping[str, object], Sequence[Mapping[str, object]]]


@dataclasses.dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray                 # (dim,) float32
    std: np.ndarray                  # (dim,) float32
    presence: Optional[np.ndarray]   # v2: (dim,) int, the presence column of each column (-1: none); v1: None

    @classmethod
    def from_release(cls, folder: str) -> "Standardizer":
        """From a local release folder's stats.npz and feature_schema.json (copy a gs:// release down first,
        as load_dataset needs too)."""
        with np.load(os.path.join(folder, "stats.npz")) as stats:
            mean, std = stats["feature_mean"].astype(np.float32), stats["feature_std"].astype(np.float32)
        with open(os.path.join(folder, "feature_schema.json"), encoding="utf-8") as handle:
            schema = json.load(handle)
        presence = schema.get("column_presence")
        return cls(mean, std, None if presence is None else np.asarray(presence, dtype=np.int64))

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float32)
        scaled = (x - self.mean) / self.std
        if self.presence is None:
            return scaled
        masked = self.presence >= 0
        present = x[:, np.where(masked, self.presence, 0)]
        return np.where(masked, present * scaled, x).astype(np.float32)


def fit_length(frames: np.ndarray, target_len: int = TARGET_LEN) -> Tuple[np.ndarray, np.ndarray]:
    """(target_len, dim) frames and their (target_len,) mask: centre-cropped or zero-padded at the end."""
    n = len(frames)
    if n >= target_len:
        start = (n - target_len) // 2
        return frames[start:start + target_len], np.ones(target_len, dtype=bool)
    padded = np.zeros((target_len,) + frames.shape[1:], dtype=frames.dtype)
    padded[:n] = frames
    return padded, np.arange(target_len) < n


def training_batch(rows: Rows, standardize: Standardizer, target_len: int = TARGET_LEN) -> Dict[str, object]:
    """features (batch, target_len, dim) float32, mask (batch, target_len) bool, length (batch,) int32
    (real frames in the window), and every other field of the rows, numbers as arrays, the rest as lists."""
    rows = _as_rows(rows)
    fitted = [_window(r[FEATURES], standardize, target_len) for r in rows]
    batch: Dict[str, object] = {
        FEATURES: np.stack([f for f, _ in fitted]).astype(np.float32),
        "mask": np.stack([m for _, m in fitted]),
        "length": np.array([int(m.sum()) for _, m in fitted], dtype=np.int32),
    }
    for name in (rows[0] if rows else {}):
        if name != FEATURES:
            values = [r[name] for r in rows]
            numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)
            batch[name] = np.asarray(values) if numeric else values
    return batch


def _window(frames, standardize: Standardizer, target_len: int) -> Tuple[np.ndarray, np.ndarray]:
    """The clip fitted to target_len, its real frames standardized and its padding left at zero."""
    fixed, mask = fit_length(np.asarray(frames), target_len)
    window = np.zeros(fixed.shape, dtype=np.float32)
    window[mask] = standardize(fixed[mask])
    return window, mask


def collate(standardize: Standardizer, target_len: int = TARGET_LEN) -> Callable[[List[Mapping]], Dict[str, object]]:
    """A collate_fn for a data loader that hands over a list of rows (PyTorch's DataLoader does)."""
    return lambda rows: training_batch(rows, standardize, target_len)


def _as_rows(rows: Rows) -> List[Mapping[str, object]]:
    if isinstance(rows, Mapping):
        if np.ndim(rows[FEATURES][0]) == 1:  # its first element is a frame, not a clip: one row
            return [rows]
        columns = list(rows)
        return [dict(zip(columns, values)) for values in zip(*(rows[c] for c in columns))]
    return list(rows)
