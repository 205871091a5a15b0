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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.face_crop import align_in, crop_region
from deepfake_detect.core.faces import Face, FaceDetector
from deepfake_detect.core.media.checks import probe_file
from deepfake_detect.core.media.images import ImageSource
from deepfake_detect.core.media.pixels import Box, Frame, View, downscale
from deepfake_detect.core.media.video import (
    FramePicture,
    SampledFrame,
    open_video,
    sample_frames,
    sample_indices,
)
from deepfake_detect.core.model_card import KindEvidence
from deepfake_detect.core.pictures import FrameThumbnails, Thumbnail, thumbnail_side
from deepfake_detect.core.prefetch import Prefetch
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
    band,
)
from deepfake_detect.core.tracking import Tracker, track_score

# progress(done, total) is called as video frames are read.
Progress = Callable[[int, int], None]

# Longest side of the evidence image an analysis hands out (the page shows it; stores keep it).
EVIDENCE_MAX_SIDE = 1280


class Analysis:
    """A result plus the pictures it refers to (kept out of the record to keep it small).

    ``evidence`` is the image, or a video's most suspicious frame, upright and at most
    ``EVIDENCE_MAX_SIDE`` pixels on its long side; ``evidence_scale`` is its size over the
    original's (the boxes are in original pixels). A large image's evidence is decoded when first
    asked for: a scan that stores no evidence (the CLI) never decodes it.

    Asked for pictures (``ScanPipeline.analyze(..., pictures=True)``), a scan also keeps
    ``thumbnails`` (a video's sampled frames, by frame index) and ``crops`` (each face track's
    aligned crop of its most suspicious face, by track id), bounded as ``core.pictures`` says.
    """

    def __init__(
        self,
        result: DetectionResult,
        evidence: Frame | None = None,
        *,
        evidence_scale: float = 1.0,
        load_evidence: Callable[[], tuple[Frame, float]] | None = None,
        thumbnails: dict[int, Thumbnail] | None = None,
        crops: dict[int, Frame] | None = None,
    ) -> None:
        self.result = result
        self._evidence = evidence
        self._scale = evidence_scale
        self._load = load_evidence
        self.thumbnails = thumbnails or {}
        self.crops = crops or {}

    @property
    def evidence(self) -> Frame | None:
        if self._evidence is None and self._load is not None:
            load, self._load = self._load, None
            try:
                self._evidence, self._scale = load()
            except Exception:  # the file decoded once already; a scan never fails for its picture
                self._evidence = None
        return self._evidence

    @property
    def evidence_scale(self) -> float:
        _ = self.evidence
        return self._scale


@dataclass
class _FrameScan:
    """What a video's sampled frames leave behind once scored."""

    sampled: list[tuple[int, float, list[FaceResult]]] = field(default_factory=list)  # index, time, faces
    best: dict[int, tuple[float, int, int]] = field(default_factory=dict)  # track -> score, sample, face
    kept: dict[int, tuple[Frame, float]] = field(default_factory=dict)  # sample -> evidence copy, scale
    size: tuple[int, int] | None = None
    thumbnails: FrameThumbnails | None = None  # when pictures are kept
    crops: dict[int, Frame] = field(default_factory=dict)  # track -> crop of its most suspicious face


class _Picture(Protocol):
    """An image or a decoded video frame: what face detection and cropping read from it."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def view(self, min_long_side: int) -> View: ...

    def region(self, box: Box, factor: int) -> View: ...


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
        self,
        path: Path,
        *,
        display_path: str | None = None,
        progress: Progress | None = None,
        pictures: bool = False,
    ) -> Analysis:
        """Scan one file. Never raises for bad input: failures become a result with an error.
        ``pictures``: also keep the frames' thumbnails and the faces' crops (what a store keeps
        for the page; the CLI does without)."""
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
                    analysis = self._analyze_image(path, shown, timer, pictures)
                else:
                    analysis = self._analyze_video(path, shown, timer, progress, pictures)
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

    def _analyze_image(self, path: Path, shown: str, timer: _Timer, pictures: bool) -> Analysis:
        with timer.stage("decode"):
            source = ImageSource(path.read_bytes(), self.config.limits)
        try:
            face_results, view, crops = self._score(source, timer)
        finally:
            source.release()
        result = DetectionResult(
            path=shown,
            media_kind=MediaKind.IMAGE,
            width=source.width,
            height=source.height,
            model=self.model_info,
            threshold=self.classifier.threshold,
            threshold_real=self.classifier.threshold_real,
        )
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
                    face=f.track,
                )
                for f in face_results
            ]
        self._conclude(result)
        kept = dict(enumerate(crops)) if pictures else None
        if view.factor == 1 and max(source.width, source.height) <= EVIDENCE_MAX_SIDE:
            return Analysis(result, view.image, crops=kept)  # already decoded, upright and small enough
        return Analysis(result, load_evidence=lambda: source.evidence(EVIDENCE_MAX_SIDE), crops=kept)

    def _analyze_video(
        self, path: Path, shown: str, timer: _Timer, progress: Progress | None, pictures: bool
    ) -> Analysis:
        """Frames are decoded, scored and let go one at a time: what stays is their faces (boxes,
        scores, small crops' results) and, for each track, a copy of the frame of its most
        suspicious face downscaled for the evidence. Memory does not grow with the frame size."""
        limits, video = self.config.limits, self.config.video
        with timer.stage("decode"):
            capture, info = open_video(
                path,
                limits.max_video_pixels,
                limits.max_video_seconds,
                limits=limits,
                index=True,
                threads=video.decode_threads,
            )
        try:
            total = len(sample_indices(info.frame_count, video.sample_frames))
            scan = _FrameScan(thumbnails=FrameThumbnails(thumbnail_side(total)) if pictures else None)
            # The next sample is decoded while this one is scored; the thread is done before the
            # capture is released.
            with Prefetch(sample_frames(capture, info, video.sample_frames)) as frames:
                self._scan_frames(scan, frames, timer, progress, total)
        finally:
            capture.release()
        sampled, best, kept, size = scan.sampled, scan.best, scan.kept, scan.size
        if not sampled or size is None:
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "no frame of the video could be decoded")
        result = DetectionResult(
            path=shown,
            media_kind=MediaKind.VIDEO,
            width=size[0],
            height=size[1],
            duration_s=round(info.duration_s, 3),
            frames_sampled=len(sampled),
            model=self.model_info,
            threshold=self.classifier.threshold,
            threshold_real=self.classifier.threshold_real,
        )
        by_track: dict[int, list[FaceResult]] = defaultdict(list)
        # sample -> index in result.faces of its first face
        first_face = list(accumulate((len(faces) for _, _, faces in sampled), initial=0))
        for index, timestamp_s, frame_faces in sampled:
            for face in frame_faces:
                assert face.track is not None
                by_track[face.track].append(face)
            result.frames.append(
                FrameScore(
                    frame_index=index,
                    timestamp_s=round(timestamp_s, 3),
                    faces=len(frame_faces),
                    max_score=max((f.score for f in frame_faces), default=None),
                    scores={str(f.track): f.score for f in frame_faces},
                )
            )
        result.faces = [f for _, _, fs in sampled for f in fs]
        # A face seen in only one or two of many samples is more likely a false detection or a
        # passer-by than a person the file is about: it is reported but does not decide the verdict.
        min_frames = min(video.min_track_frames, math.ceil(0.1 * len(sampled)))
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
                    face=first_face[best[track][1]] + best[track][2],
                )
            )
        if not any(t.counted for t in result.tracks):
            for t in result.tracks:
                t.counted = True
        thumbnails = scan.thumbnails.by_frame if scan.thumbnails else {}
        analysis = Analysis(result, thumbnails=thumbnails, crops=scan.crops)
        counted = {t.track for t in result.tracks if t.counted}
        if result.faces:
            # The most suspicious face of a counted track (the first of equals): its frame is kept.
            _, number, _ = max(
                (v for track, v in best.items() if track in counted), key=lambda v: (v[0], -v[1], -v[2])
            )
            result.evidence_frame_index = sampled[number][0]
            image, scale = kept[number]
            analysis = Analysis(result, image, evidence_scale=scale, thumbnails=thumbnails, crops=scan.crops)
        self._conclude(result)
        return analysis

    def _scan_frames(
        self,
        scan: _FrameScan,
        frames: Iterator[SampledFrame],
        timer: _Timer,
        progress: Progress | None,
        total: int,
    ) -> None:
        """Score each sampled frame as it comes and let it go, keeping its faces and, while it
        holds some track's most suspicious face, a copy downscaled for the evidence (and, when
        ``scan`` keeps pictures, its thumbnail and the crops of its tracks' best faces)."""
        tracker = Tracker(self.config.video.track_iou_threshold)
        while True:
            with timer.stage("decode"):
                frame = next(frames, None)
            if frame is None:
                return
            picture = FramePicture(frame.image)
            # The decoded frames, not the container header, give the size the boxes refer to:
            # a phone video with a rotation tag is decoded upright, width and height swapped.
            scan.size = scan.size or (picture.width, picture.height)
            faces, _, crops = self._score(picture, timer)
            with timer.stage("track"):
                ids = tracker.add([f.box for f in faces])
            number = len(scan.sampled)
            for face_no, (face, track) in enumerate(zip(faces, ids, strict=True)):
                face.track, face.frame_index = track, frame.index
                face.timestamp_s = round(frame.timestamp_s, 3)
                if track not in scan.best or face.score > scan.best[track][0]:
                    scan.best[track] = (face.score, number, face_no)
                    if scan.thumbnails is not None:
                        scan.crops[track] = crops[face_no]
            if scan.thumbnails is not None:
                with timer.stage("pictures"):
                    scan.thumbnails.add(frame.index, frame.image)
            needed = {sample for _, sample, _ in scan.best.values()}
            if number in needed:
                scan.kept[number] = downscale(frame.image, EVIDENCE_MAX_SIDE)
            for stale in set(scan.kept) - needed:
                del scan.kept[stale]
            scan.sampled.append((frame.index, frame.timestamp_s, faces))
            del frame, picture
            if progress:
                progress(len(scan.sampled), total)

    def _score(self, picture: _Picture, timer: _Timer) -> tuple[list[FaceResult], View, list[Frame]]:
        """Detect, align and classify every face of one image or frame (in one batch); also
        returns the view the faces were detected on and the faces' aligned crops."""
        with timer.stage("decode"):
            view = picture.view(self.face_detector.max_side)
        with timer.stage("detect"):
            faces = [
                _to_original(face, view)
                for face in self.face_detector.detect(view.image, pixel_size=view.factor)
            ]
        geometry = self.classifier.geometry
        crops: list[Frame] = []
        transforms: list[NDArray[np.float64]] = []
        for face in faces:
            with timer.stage("decode"):
                region = crop_region(picture, face.landmarks, geometry)
            with timer.stage("align"):
                aligned = align_in(region, face.landmarks, geometry)
            crops.append(aligned.crop)
            transforms.append(aligned.crop_to_image)
        with timer.stage("classify"):
            scores = self.classifier.score(crops)
        results: list[FaceResult] = []
        for i, (face, transform) in enumerate(zip(faces, transforms, strict=True)):
            score = round(float(scores.probabilities[i]), 4)
            kinds = (
                None
                if scores.kinds is None
                else {
                    name: round(float(p), 4)
                    for name, p in zip(self.classifier.card.outputs.kind_names, scores.kinds[i], strict=True)
                }
            )
            box_x, box_y, box_w, box_h = (round(v, 1) for v in face.box)
            results.append(
                FaceResult(
                    box=(box_x, box_y, box_w, box_h),
                    landmarks=[(round(float(x), 1), round(float(y), 1)) for x, y in face.landmarks],
                    detector_score=round(face.score, 4),
                    score=score,
                    verdict=self._verdict(score),
                    kinds=kinds,
                    crop_to_image=np.round(transform, 4).tolist(),
                    heatmap=None if scores.cams is None else np.round(scores.cams[i], 3).tolist(),
                )
            )
        return results, view, crops

    def _verdict(self, score: float) -> Verdict:
        return band(score, self.classifier.threshold, self.classifier.threshold_real)

    def _conclude(self, result: DetectionResult) -> None:
        """The file is as suspicious as its most suspicious face track that counts."""
        result.status = Status.DONE
        if not result.tracks:
            result.verdict, result.score = Verdict.NO_FACE, None
            return
        result.score = max(t.score for t in result.tracks if t.counted)
        result.verdict = self._verdict(result.score)
        if result.verdict == Verdict.FAKE:
            deciding = max((t for t in result.tracks if t.counted), key=lambda t: t.score)
            if deciding.face is not None:
                result.evidence_kind = evidence_kind(
                    result.faces[deciding.face].kinds, self.classifier.card.kinds
                )


def evidence_kind(kinds: dict[str, float] | None, card_kinds: Mapping[str, KindEvidence]) -> str | None:
    """The kind of evidence a face points to: the one furthest above its own threshold, in units
    of the room its threshold leaves (so a kind with a high threshold does not win by default)."""
    if not kinds:
        return None
    margins = {
        name: (p - card_kinds[name].threshold) / max(1.0 - card_kinds[name].threshold, 1e-6)
        if p >= card_kinds[name].threshold
        else (p - card_kinds[name].threshold) / max(card_kinds[name].threshold, 1e-6)
        for name, p in kinds.items()
        if name in card_kinds
    }
    return max(margins, key=lambda name: margins[name]) if margins else None


def _rounded(ms: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 2) for name, value in ms.items()}


def _to_original(face: Face, view: View) -> Face:
    """A face found in ``view``, in the coordinates of the full-size image."""
    if view.factor == 1 and view.x0 == 0 and view.y0 == 0:
        return face
    x, y = view.to_original(np.array([face.box[0], face.box[1]]))
    f = float(view.factor)
    return Face(
        box=(float(x), float(y), face.box[2] * f, face.box[3] * f),
        landmarks=view.to_original(face.landmarks).astype(np.float32),
        score=face.score,
    )
