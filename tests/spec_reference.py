"""A literal, frame-by-frame transcription of ../shared/spec/features-v1.md.

Deliberately written the slow, obvious way (one frame at a time, plain loops)
and independently of transforms/features/v1.py, so that tests can hold the
vectorized production code to the definition at 1e-5.
"""
import numpy as np


def normalize_frame(vec):
    vec = np.array(vec, dtype=np.float32)
    torso = np.array([vec[i * 4:i * 4 + 3] for i in (11, 12, 23, 24)], dtype=np.float32)
    if not np.all(np.isfinite(torso)) or np.linalg.norm(torso.reshape(-1)) < 1e-6:
        return vec
    c = torso.mean(axis=0).astype(np.float32)
    out = vec.copy()
    for i in range(33):
        out[i * 4:i * 4 + 3] = vec[i * 4:i * 4 + 3] - c
    for start in range(132, len(vec), 3):
        out[start:start + 3] = vec[start:start + 3] - c

    def point(i):
        return out[i * 4:i * 4 + 3]

    shoulder = np.linalg.norm(point(11) - point(12))
    hip = np.linalg.norm(point(23) - point(24))
    height = np.linalg.norm((point(11) + point(12)) / 2 - (point(23) + point(24)) / 2)
    candidates = [s for s in (shoulder, hip, height) if s > 1e-4]
    scale = float(np.median(candidates)) if candidates else 1.0
    if scale < 1e-6:
        scale = 1.0
    inv = np.float32(1.0 / scale)
    for i in range(33):
        out[i * 4:i * 4 + 3] = out[i * 4:i * 4 + 3] * inv
    for start in range(132, len(vec), 3):
        out[start:start + 3] = out[start:start + 3] * inv
    return out


def clip(frames, valid, visibility, min_frames=48, min_valid_ratio=0.45, visibility_threshold=0.55,
         motion_keep_threshold=1e-3, motion_rejection_threshold=7.5e-4, ema_alpha=0.2, keep_low_quality=False):
    """Returns (status, reason, features or None, metrics dict)."""
    total = len(frames)
    if total == 0:
        return "failed", "No frames read", None, {}
    F = [normalize_frame(f) for f in frames]
    vis_cols = {i * 4 + 3 for i in range(33)}
    cols = [j for j in range(len(F[0])) if j not in vis_cols]
    e = [0.0]
    for t in range(1, total):
        e.append(float(np.linalg.norm(F[t][cols] - F[t - 1][cols])))
    valid_idx = [t for t in range(total) if valid[t]]
    if not valid_idx:
        return "failed", "No valid pose/hand frames", None, {}
    detection_ratio = len(valid_idx) / total
    kept = [t for t in valid_idx if visibility[t] >= visibility_threshold or e[t] >= motion_keep_threshold]
    if not kept:
        kept = [valid_idx[0]]
    ke = np.array([e[t] for t in kept], dtype=np.float32)
    metrics = dict(num_frames=len(kept), detection_ratio=detection_ratio,
                   mean_visibility=float(np.mean([visibility[t] for t in kept])),
                   motion_mean=float(ke.mean()), motion_p50=float(np.percentile(ke, 50)),
                   motion_p95=float(np.percentile(ke, 95)), motion_max=float(ke.max()))
    reason = ""
    if metrics["motion_mean"] < motion_rejection_threshold:
        reason = "Low motion"
    elif len(kept) < min_frames:
        reason = "Too few frames"
    elif detection_ratio < min_valid_ratio:
        reason = "Below preprocessing quality threshold"
    if reason and not keep_low_quality:
        return "low_quality", reason, None, metrics
    x = [F[t] for t in kept]
    out = [x[0]]
    if ema_alpha > 0 and len(x) >= 2:
        for t in range(1, len(x)):
            out.append(np.float32(ema_alpha) * x[t] + np.float32(1 - ema_alpha) * out[-1])
    else:
        out = x
    return "success", reason, np.array(out, dtype=np.float32), metrics
