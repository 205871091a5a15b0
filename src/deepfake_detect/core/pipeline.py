"""The detection pipeline: provenance -> decode -> detect faces -> align -> classify -> track -> verdict.

Every file that is opened (it exists, is within the size limit and is a supported kind of media) has
its provenance read first (``core.provenance``: bounded by ``PipelineConfig.provenance``, never
raising), so a file that then fails to decode still reports what its metadata declares. The verdict
rule (``apply_provenance``) runs last: a file whose own metadata declares AI generation is ``fake``
whatever the classifier said, with ``verdict_reason``; ``score``, ``classifier_verdict`` and the
per-face and per-track verdicts stay the classifier's. A failed scan stays failed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_detect.core.align import align_face
from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.faces import Face, FaceDetector
from deepfake_detect.core.media import (
    Frame,
    decode_image,
    open_video,
    probe_file,
    sample_frames,
    sample_indices,
)
from deepfake_detect.core.provenance.model import Provenance
from deepfake_detect.core.provenance.reader import read_provenance
from deepfake_detect.core.provenance.rules import apply_provenance
from deepfake_detect.core.result import (
    DetectionResult,
    FaceResult,
    FrameScore,
    MediaKind,
    ModelInfo,
    Status,
    TrackResult,
    Verdict,
)
from deepfake_detect.core.tracking import link_tracks, track_score

# progress(done, total) is called as video frames are read.
Progress = Callable[[int, int], None]


@dataclass
class Analysis:
    """A result plus the frame its evidence refers to (kept out of the record to keep it small)."""

    result: DetectionResult
    evidence: Frame | None = None


@dataclass
class _Timer:
    ms: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] += (time.perf_counter() - start) * 1000.0


class ScanPipeline:
    """Loads the face detector and the classifier once; ``analyze`` is then called per file.

    Not thread-safe: OpenCV's detector keeps state; use one instance per worker thread.
    """

    def __init__(
        self,
        config: PipelineConfig,
        classifier: Classifier | None = None,
        face_detector: FaceDetector | None = None,
    ) -> None:
        self.config = config
        self.face_detector = face_detector or FaceDetector.from_config(config.detector_path, config.detection)
        self.classifier = classifier or Classifier(
            config.classifier_path, intra_op_threads=config.intra_op_threads
        )

    @property
    def model_info(self) -> ModelInfo:
        card = self.classifier.card
        return ModelInfo(name=card.name, version=card.version, sha256=self.classifier.sha256)

    def analyze(
        self, path: Path, *, display_path: str | None = None, progress: Progress | None = None
    ) -> Analysis:
        """Scan one file. Never raises for bad input: failures become a result with an error."""
        shown = display_path or str(path)
        timer = _Timer()
        kind = MediaKind.UNKNOWN
        provenance: Provenance | None = None
        try:
            with timer.stage("total"):
                kind, _ = probe_file(path, self.config.limits.max_file_bytes)
                with timer.stage("provenance"):
                    provenance = self._read_provenance(path)
                if kind is MediaKind.IMAGE:
                    analysis = self._analyze_image(path, shown, timer)
                else:
                    analysis = self._analyze_video(path, shown, timer, progress)
        except MediaError as exc:
            return self._failed(shown, exc.code, exc.message, kind, timer, provenance)
        except Exception as exc:  # a bug or a broken model must still give a result, not a crash
            message = f"{type(exc).__name__}: {exc}"
            return self._failed(shown, ErrorCode.INTERNAL_ERROR, message, kind, timer, provenance)
        result = analysis.result
        result.timings_ms = _rounded(timer.ms)
        self._decide(result, provenance)
        return analysis

    def _failed(
        self,
        shown: str,
        code: ErrorCode,
        message: str,
        kind: MediaKind,
        timer: _Timer,
        provenance: Provenance | None,
    ) -> Analysis:
        """A failed scan: its error, and the provenance when the file was read that far (it stays
        failed: a declaration only ever decides the verdict of a scan that finished)."""
        return Analysis(
            DetectionResult.failed(
                shown,
                code,
                message,
                media_kind=kind,
                model=self.model_info,
                timings_ms=_rounded(timer.ms),
                provenance=provenance,
            )
        )

    def _read_provenance(self, path: Path) -> Provenance:
        try:
            return read_provenance(path, self.config.provenance)
        except Exception as exc:  # it never raises; were it to, the scan must still go on
            return Provenance(errors=[f"provenance: {type(exc).__name__}: {exc}"])

    @staticmethod
    def _decide(result: DetectionResult, provenance: Provenance | None) -> None:
        """The verdict rule (docs/provenance.md): the classifier's verdict is kept as
        ``classifier_verdict``; a declaration of AI generation in the file's own metadata makes the
        file ``fake``, with the reason. ``score`` stays the classifier's."""
        result.provenance = provenance
        result.classifier_verdict = result.verdict
        if result.verdict is not None:
            verdict, reason = apply_provenance(result.verdict.value, provenance)
            result.verdict, result.verdict_reason = Verdict(verdict), reason

    def _analyze_image(self, path: Path, shown: str, timer: _Timer) -> Analysis:
        with timer.stage("decode"):
            image = decode_image(path.read_bytes(), self.config.limits.max_image_pixels)
        faces = self._score_frames([image], timer)
        result = DetectionResult(
            path=shown,
            media_kind=MediaKind.IMAGE,
            width=image.shape[1],
            height=image.shape[0],
            model=self.model_info,
            threshold=self.classifier.threshold,
        )
        face_results = faces[0]
        for track, face in enumerate(face_results):
            face.track = track
        result.faces = face_results
        if face_results:
            result.evidence_frame_index = 0
            result.tracks = [
                TrackResult(
                    track=f.track,
                    score=f.score,
                    verdict=self._verdict(f.score),
                    frames=1,
                    first_timestamp_s=0.0,
                    last_timestamp_s=0.0,
                )
                for f in face_results
            ]
        self._conclude(result)
        return Analysis(result, image)

    def _analyze_video(self, path: Path, shown: str, timer: _Timer, progress: Progress | None) -> Analysis:
        limits, video = self.config.limits, self.config.video
        with timer.stage("decode"):
            capture, info = open_video(path, limits.max_video_pixels, limits.max_video_seconds)
        try:
            frames = []
            samples = len(sample_indices(info.frame_count, video.sample_frames))
            iterator = sample_frames(capture, info, video.sample_frames)
            while True:
                with timer.stage("decode"):
                    frame = next(iterator, None)
                if frame is None:
                    break
                frames.append(frame)
                if progress:
                    progress(len(frames), samples)
        finally:
            capture.release()
        if not frames:
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "no frame of the video could be decoded")
        faces = self._score_frames([f.image for f in frames], timer)
        with timer.stage("track"):
            ids = link_tracks([[f.box for f in fs] for fs in faces], video.track_iou_threshold)
        # The decoded frames, not the container header, give the size the boxes refer to: a
        # phone video with a rotation tag is decoded upright, with width and height swapped.
        height, width = frames[0].image.shape[:2]
        result = DetectionResult(
            path=shown,
            media_kind=MediaKind.VIDEO,
            width=width,
            height=height,
            duration_s=round(info.duration_s, 3),
            frames_sampled=len(frames),
            model=self.model_info,
            threshold=self.classifier.threshold,
        )
        by_track: dict[int, list[FaceResult]] = defaultdict(list)
        for frame, frame_faces, frame_ids in zip(frames, faces, ids, strict=True):
            for face, track in zip(frame_faces, frame_ids, strict=True):
                face.track, face.frame_index = track, frame.index
                face.timestamp_s = round(frame.timestamp_s, 3)
                by_track[track].append(face)
            result.frames.append(
                FrameScore(
                    frame_index=frame.index,
                    timestamp_s=round(frame.timestamp_s, 3),
                    faces=len(frame_faces),
                    max_score=max((f.score for f in frame_faces), default=None),
                    scores={str(f.track): f.score for f in frame_faces},
                )
            )
        result.faces = [f for fs in faces for f in fs]
        # A face seen in only one or two of many samples is more likely a false detection or a
        # passer-by than a person the file is about: it is reported but does not decide the verdict.
        min_frames = min(video.min_track_frames, math.ceil(0.1 * len(frames)))
        for track, members in sorted(by_track.items()):
            score = round(track_score([f.score for f in members]), 4)
            result.tracks.append(
                TrackResult(
                    track=track,
                    score=score,
                    verdict=self._verdict(score),
                    frames=len(members),
                    first_timestamp_s=members[0].timestamp_s,
                    last_timestamp_s=members[-1].timestamp_s,
                    counted=len(members) >= min_frames,
                )
            )
        if not any(t.counted for t in result.tracks):
            for t in result.tracks:
                t.counted = True
        evidence = None
        counted = {t.track for t in result.tracks if t.counted}
        if result.faces:
            worst = max((f for f in result.faces if f.track in counted), key=lambda f: f.score)
            position = next(i for i, f in enumerate(frames) if f.index == worst.frame_index)
            result.evidence_frame_index = worst.frame_index
            evidence = frames[position].image
        self._conclude(result)
        return Analysis(result, evidence)

    def _score_frames(self, images: list[Frame], timer: _Timer) -> list[list[FaceResult]]:
        """Detect, align and classify every face of every frame in one batch."""
        detected: list[list[Face]] = []
        with timer.stage("detect"):
            for image in images:
                detected.append(self.face_detector.detect(image))
        crops, transforms, owners = [], [], []
        with timer.stage("align"):
            for frame_no, (image, faces) in enumerate(zip(images, detected, strict=True)):
                for face in faces:
                    aligned = align_face(image, face.landmarks, self.classifier.geometry)
                    crops.append(aligned.crop)
                    transforms.append(aligned.crop_to_image)
                    owners.append(frame_no)
        with timer.stage("classify"):
            scores = self.classifier.score(crops)
        results: list[list[FaceResult]] = [[] for _ in images]
        for i, (frame_no, transform) in enumerate(zip(owners, transforms, strict=True)):
            face = detected[frame_no][len(results[frame_no])]
            score = round(float(scores.probabilities[i]), 4)
            box_x, box_y, box_w, box_h = (round(v, 1) for v in face.box)
            results[frame_no].append(
                FaceResult(
                    box=(box_x, box_y, box_w, box_h),
                    landmarks=[(round(float(x), 1), round(float(y), 1)) for x, y in face.landmarks],
                    detector_score=round(face.score, 4),
                    score=score,
                    verdict=self._verdict(score),
                    crop_to_image=np.round(transform, 4).tolist(),
                    heatmap=None if scores.cams is None else np.round(scores.cams[i], 3).tolist(),
                )
            )
        return results

    def _verdict(self, score: float) -> Verdict:
        return Verdict.FAKE if score >= self.classifier.threshold else Verdict.REAL

    def _conclude(self, result: DetectionResult) -> None:
        """The file is as suspicious as its most suspicious face track that counts."""
        result.status = Status.DONE
        if not result.tracks:
            result.verdict, result.score = Verdict.NO_FACE, None
            return
        result.score = max(t.score for t in result.tracks if t.counted)
        result.verdict = self._verdict(result.score)


def _rounded(ms: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 2) for name, value in ms.items()}
