"""Skeleton previews: one picked clip in, one preview (an animated GIF) out.

Where the landmarks come from:
  * a saved clip (success or kept_low): its .npy under features/pose_data/;
  * a clip the quality rules rejected is not saved: its stored landmarks
    (OUT/landmarks/<stem>.pose) go through the run's feature version with its
    settings and keep_low_quality, which gives the frames the run would have saved. Only
    for outputs without a .pose (written before the landmark store) is the
    video decoded again, when a video folder is given; otherwise the preview is
    unavailable and says how to get it;
  * with `overlay`, every picked clip's raw landmarks (from its .pose, or decoded
    again without one) are drawn over the video's own frames.
A preview that cannot be drawn carries the reason instead of an image; it never
fails the report. A preview drawn before from the same file at the same
version is taken from the cache (transforms/reports/preview_cache.py).
"""
from __future__ import annotations

import dataclasses
import posixpath
from typing import Dict, List, Optional

import numpy as np

from transforms.common import storage
from transforms.features import registry
from transforms.features.landmarks import frame_vectors
from transforms.landmarks import pose_file
from transforms.landmarks.holistic import LANDMARK_OPTIONS, HolisticExtractor, ModelNotAvailable, upright
from transforms.reports import preview_cache
from transforms.reports.report_data import ReportClip
from transforms.reports.skeleton_preview import frame_indices, overlay_gif, skeleton_gif
from transforms.store.paths import landmark_path
SAVED = "saved features"
STORED = "computed from its stored landmarks (not saved by the run)"
REEXTRACTED = "re-extracted from the video (not saved by the run)"
OVERLAY = "landmarks over the video frames"
NOT_SAVED = ("Rejected clips are not saved, and this one has no stored landmarks (OUT/landmarks/). Rebuild "
             "the report with --video_dir to re-extract them, or run the pipeline again (it writes them).")
OVERLAY_NEEDS_VIDEO = "--preview_overlay needs --video_dir: the overlay is drawn on the video frames."

MAX_FRAMES = 24
PREVIEW_SIZE = 200
OVERLAY_WIDTH = 220


@dataclasses.dataclass
class Preview:
    video_file: str
    status: str
    category: str
    sentence: str
    reason: str = ""
    source: str = ""
    gif: Optional[bytes] = dataclasses.field(default=None, repr=False)
    frames: int = 0              # frames of the clip the preview was drawn from
    frames_shown: int = 0
    unavailable: str = ""        # why there is no image
    cache_key: Optional[str] = dataclasses.field(default=None, repr=False)  # see preview_cache.py


def feature_options(run_config: dict) -> dict:
    """The run's feature version and options, keeping what the gates reject (a preview wants the
    frames, not the verdict). A summary from before --feature_version means the default version."""
    version = run_config.get("feature_version", registry.DEFAULT)
    values = {name: run_config[name] for name in registry.get(version).option_names() if name in run_config}
    return {**values, "feature_version": version, "keep_low_quality": True}


def draw_previews(clips: List[ReportClip], output_dir: str, run_config: dict, video_dir: Optional[str] = None,
                  overlay: bool = False, cached: Optional[Dict[str, dict]] = None) -> List[Preview]:
    """A Preview per picked clip (see the module docstring for where the landmarks come from)."""
    drawer = PreviewDrawer(output_dir, video_dir, overlay)
    try:
        return [drawer.preview(clip, run_config, cached or {}) for clip in clips]
    finally:
        drawer.close()


class PreviewDrawer:
    def __init__(self, output_dir: str, video_dir: Optional[str] = None, overlay: bool = False,
                 max_frames: int = MAX_FRAMES):
        self.output_dir = output_dir  # the report's: outputs may have been copied or moved since the run
        self.video_dir = video_dir
        self.overlay = overlay
        self.max_frames = max_frames
        self._extractor = None  # built on first need: most reports never run MediaPipe

    def close(self):
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def preview(self, clip: ReportClip, run_config: dict, cached: Dict[str, dict]) -> Preview:
        preview = Preview(video_file=clip.video_file, status=clip.status, category=clip.category,
                          sentence=clip.sentence, reason=clip.reason)
        preview.cache_key = self._cache_key(clip, run_config)
        earlier = cached.get(preview.cache_key) if preview.cache_key else None
        if earlier is not None:
            for name in ("source", "gif", "frames", "frames_shown"):
                setattr(preview, name, earlier[name])
            return preview
        try:
            self._draw(clip, preview, run_config)
        except ModelNotAvailable as exc:
            preview.unavailable = str(exc)
        except Exception as exc:  # a missing preview with its reason beats a failed report
            preview.unavailable = f"Could not draw the preview: {type(exc).__name__}: {exc}"
        return preview

    def _cache_key(self, clip: ReportClip, run_config: dict) -> Optional[str]:
        """The key of this clip's preview when the file it is drawn from has a known version (and no overlay)."""
        if self.overlay:
            return None
        drawn_from = "features" if clip.saved else "landmarks"
        settings = {"max_frames": self.max_frames, "size": PREVIEW_SIZE}
        if not clip.saved:  # drawn from the frames these options keep
            settings["options"] = feature_options(run_config)
        version = clip.features_version if clip.saved else clip.landmarks_version
        return preview_cache.key(clip.video_file, clip.status, drawn_from, version, settings)

    def _draw(self, clip, preview: Preview, run_config: dict) -> None:
        if self.overlay:
            if not self.video_dir:
                preview.unavailable = OVERLAY_NEEDS_VIDEO
                return
            self._draw_overlay(clip, preview, run_config)
        elif clip.saved:
            options = feature_options(run_config)
            array = registry.of(options).drawable(storage.load_npy(clip.feature_path), options)
            self._set_gif(preview, SAVED, array, skeleton_gif(array, PREVIEW_SIZE, self.max_frames))
        else:
            found = self._points(clip, preview, run_config)
            if found is None:
                return
            points, source = found
            options = feature_options(run_config)
            verdict = registry.of(options).compute(points, options)
            if verdict.features is None:
                preview.unavailable = f"No landmarks to draw: {verdict.reason}."
                return
            frames = registry.of(options).drawable(verdict.features, options)
            self._set_gif(preview, source, frames, skeleton_gif(frames, PREVIEW_SIZE, self.max_frames))

    def _points(self, clip, preview: Preview, run_config: dict):
        """(ClipPoints, where they came from), or None with preview.unavailable set."""
        stored = landmark_path(self.output_dir, posixpath.splitext(clip.video_file)[0])
        data = storage.read_if_present(stored)
        if data is not None:
            return pose_file.read_points(data), STORED
        if not self.video_dir:
            preview.unavailable = NOT_SAVED
            return None
        video = self._video_path(clip, preview)
        if video is None:
            return None
        with storage.local_copy(video) as local:
            return pose_file.read_points(self._holistic(run_config).extract(local)), REEXTRACTED

    def _draw_overlay(self, clip, preview: Preview, run_config: dict) -> None:
        video = self._video_path(clip, preview)
        if video is None:
            return
        found = self._points(clip, preview, run_config)
        if found is None:
            return
        # Raw landmarks, whatever the features kept: as many face points as the run's features (or 1 in 5).
        raw = frame_vectors(found[0], run_config.get("face_downsample", 5))
        shown = frame_indices(len(raw), self.max_frames)
        with storage.local_copy(video) as local:
            images = read_frames(local, shown, OVERLAY_WIDTH)
        if not images:
            preview.unavailable = "No frames could be read from the video."
            return
        self._set_gif(preview, OVERLAY, raw, overlay_gif(images, raw[shown[:len(images)]]))

    def _set_gif(self, preview: Preview, source: str, frames: np.ndarray, gif: bytes) -> None:
        preview.source = source
        preview.gif = gif
        preview.frames = len(frames)
        preview.frames_shown = len(frame_indices(len(frames), self.max_frames))

    def _video_path(self, clip, preview: Preview) -> Optional[str]:
        path = storage.join(self.video_dir, clip.video_file)
        if not storage.exists(path):
            preview.unavailable = f"The video is not under --video_dir ({path})."
            return None
        return path

    def _holistic(self, cfg: dict) -> HolisticExtractor:
        """One Holistic per report, with the run's settings."""
        if self._extractor is None:
            self._extractor = HolisticExtractor(**{k: cfg[k] for k in LANDMARK_OPTIONS if k in cfg})
        return self._extractor


def read_frames(video_path: str, indices: np.ndarray, width: int) -> List[np.ndarray]:
    """The RGB frames at `indices` (in read order, as Holistic saw them), scaled down to `width`."""
    import cv2

    wanted = set(int(i) for i in indices)
    images = []
    capture = cv2.VideoCapture(video_path)
    upright(capture)  # the frames Holistic saw
    try:
        t = 0
        while t <= max(wanted, default=-1):
            ok, frame = capture.read()
            if not ok:
                break
            if t in wanted:
                height = round(frame.shape[0] * min(1.0, width / frame.shape[1]))
                small = cv2.resize(frame, (min(width, frame.shape[1]), height), interpolation=cv2.INTER_AREA)
                images.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            t += 1
    finally:
        capture.release()
    return images
