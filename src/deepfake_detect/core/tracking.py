"""Link faces across sampled video frames into tracks, and turn per-face scores into verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between box centres, in units of the larger box side."""
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    return math.hypot(dx, dy) / max(a[2], a[3], b[2], b[3], 1e-6)


@dataclass
class _Track:
    box: Box
    frame: int
    velocity: tuple[float, float] = (0.0, 0.0)  # box shift per frame, from the last two sightings

    def predict(self, frame: int) -> Box:
        steps = frame - self.frame
        x, y, w, h = self.box
        return (x + self.velocity[0] * steps, y + self.velocity[1] * steps, w, h)

    def update(self, box: Box, frame: int) -> None:
        steps = frame - self.frame
        self.velocity = ((box[0] - self.box[0]) / steps, (box[1] - self.box[1]) / steps)
        self.box, self.frame = box, frame


class Tracker:
    """Links faces frame by frame, as the frames arrive (a video is never held in memory whole).

    Each track's box is predicted forward at its last velocity (constant motion), then each
    frame's boxes are matched to the predictions greedily, best overlap first. Without the
    prediction two faces that pass each other between two samples swap identities. Samples are
    far apart in time, so a box that does not overlap may still match on a nearby centre.
    """

    def __init__(self, iou_threshold: float = 0.3, max_centre_distance: float = 0.5) -> None:
        self.iou_threshold = iou_threshold
        self.max_centre_distance = max_centre_distance
        self._tracks: list[_Track] = []
        self._frame = 0

    def add(self, boxes: Sequence[Box]) -> list[int]:
        """Track id of every box of the next frame."""
        frame, tracks = self._frame, self._tracks
        self._frame += 1
        candidates = []
        for i, box in enumerate(boxes):
            for track_id, track in enumerate(tracks):
                predicted = track.predict(frame)
                overlap = iou(box, predicted)
                distance = _centre_distance(box, predicted)
                if overlap >= self.iou_threshold or distance <= self.max_centre_distance:
                    candidates.append((overlap, -distance, i, track_id))
        candidates.sort(reverse=True)
        ids = [-1] * len(boxes)
        used: set[int] = set()
        for _, _, i, track_id in candidates:
            if ids[i] == -1 and track_id not in used:
                ids[i] = track_id
                used.add(track_id)
        for i, box in enumerate(boxes):
            if ids[i] == -1:
                ids[i] = len(tracks)
                tracks.append(_Track(box, frame))
            else:
                tracks[ids[i]].update(box, frame)
        return ids


def link_tracks(
    frames: Sequence[Sequence[Box]], iou_threshold: float = 0.3, max_centre_distance: float = 0.5
) -> list[list[int]]:
    """Track id of every box, frame by frame (``Tracker`` over all frames at once)."""
    tracker = Tracker(iou_threshold, max_centre_distance)
    return [tracker.add(boxes) for boxes in frames]


def track_score(scores: Sequence[float]) -> float:
    """Robust per-track score: the mean of the highest half of its frame scores.

    A face swap can fail on only some frames (profile views, occlusion), so the lowest scores
    are dropped; averaging the top half, not taking the maximum, keeps one noisy frame of a
    real face from flipping the verdict.
    """
    if not scores:
        raise ValueError("a track has at least one score")
    top = sorted(scores, reverse=True)[: max(1, math.ceil(len(scores) / 2))]
    return float(sum(top) / len(top))
