"""core.pipeline: ScanPipeline.analyze on real photos and videos and on every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deepfake_detect.core import pipeline as pipeline_module
from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.media.images import ImageSource
from deepfake_detect.core.model_card import KindEvidence, ModelCard
from deepfake_detect.core.pipeline import ScanPipeline, evidence_kind
from deepfake_detect.core.provenance import ClaimSource, Provenance, ProvenanceConfig
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict, band
from tests.support.c2pa import make_pki
from tests.support.c2pa import sign as sign_c2pa
from tests.support.media import (
    paste,
    png_bomb,
    png_with_text,
    read_bgr,
    write_image,
    write_video,
    xmp_packet,
)
from tests.support.tiny_model import build_tiny_classifier

STAGES = {"provenance", "decode", "detect", "align", "classify", "total"}


def detector_with_threshold(detector: ScanPipeline, threshold: float) -> ScanPipeline:
    """The session detector's models with another decision threshold on the card."""
    card = detector.classifier.card.model_copy(update={"threshold": threshold})
    path = detector.config.classifier_path
    return ScanPipeline(
        detector.config, classifier=Classifier(path, card), face_detector=detector.face_detector
    )


def assert_failed(result: DetectionResult, code: ErrorCode) -> None:
    assert result.status is Status.FAILED
    assert result.verdict is Verdict.ERROR
    assert result.error is not None and result.error.code is code
    assert result.error.message
    assert result.score is None and result.faces == []
    assert result.model is not None  # which model refused it is still recorded


# --- images ---------------------------------------------------------------------------------


def test_one_face_photo_full_record(detector: ScanPipeline, face_photo: Path) -> None:
    analysis = detector.analyze(face_photo)
    result = analysis.result
    assert result.status is Status.DONE and result.error is None
    assert result.path == str(face_photo)
    assert result.media_kind is MediaKind.IMAGE
    assert (result.width, result.height) == (400, 400)
    assert len(result.faces) == 1 and len(result.tracks) == 1
    face = result.faces[0]
    assert 0.0 < face.score < 1.0 and face.detector_score > 0.6
    assert len(face.landmarks) == 5 and face.crop_to_image is not None
    assert face.heatmap is not None and len(face.heatmap) > 1  # the tiny model has a CAM output
    assert result.score == face.score == result.tracks[0].score
    assert result.threshold == detector.classifier.threshold
    assert result.score is not None and result.threshold is not None
    assert result.verdict is (Verdict.FAKE if result.score >= result.threshold else Verdict.REAL)
    assert result.model is not None and result.model.name == "tiny-test-classifier"
    assert result.model.sha256 == detector.classifier.sha256
    assert set(result.timings_ms) >= STAGES and all(v >= 0 for v in result.timings_ms.values())
    assert result.evidence_frame_index == 0
    assert analysis.evidence is not None and analysis.evidence.shape == (400, 400, 3)
    DetectionResult.model_validate_json(result.model_dump_json())  # survives a store round trip


def test_display_path_replaces_the_local_path(detector: ScanPipeline, face_photo: Path) -> None:
    shown = "uploads/x/photo.jpg"
    assert detector.analyze(face_photo, display_path=shown).result.path == shown


def test_two_faces_each_get_a_verdict_and_the_file_the_worst(
    detector: ScanPipeline, couple_photo: Path
) -> None:
    result = detector.analyze(couple_photo).result
    assert len(result.faces) == 2 and len(result.tracks) == 2
    assert sorted(f.track for f in result.faces) == [0, 1]
    assert result.score == max(f.score for f in result.faces)
    threshold = detector.classifier.threshold
    for track in result.tracks:
        assert track.verdict is (Verdict.FAKE if track.score >= threshold else Verdict.REAL)
    for face in result.faces:  # a verdict per face
        assert face.verdict is (Verdict.FAKE if face.score >= threshold else Verdict.REAL)


@pytest.mark.parametrize(("threshold", "file_verdict"), [(0.0, Verdict.FAKE), (1.0, Verdict.REAL)])
def test_verdict_follows_the_model_card_threshold(
    detector: ScanPipeline, couple_photo: Path, threshold: float, file_verdict: Verdict
) -> None:
    result = detector_with_threshold(detector, threshold).analyze(couple_photo).result
    assert result.threshold == threshold
    assert result.verdict is file_verdict
    assert {t.verdict for t in result.tracks} == {file_verdict}


def test_file_is_fake_when_any_face_is(detector: ScanPipeline, couple_photo: Path) -> None:
    scores = sorted(f.score for f in detector.analyze(couple_photo).result.faces)
    between = (scores[0] + scores[1]) / 2  # one face above the threshold, one below
    result = detector_with_threshold(detector, between).analyze(couple_photo).result
    assert sorted(t.verdict for t in result.tracks) == [Verdict.FAKE, Verdict.REAL]
    assert result.verdict is Verdict.FAKE


def test_no_face(detector: ScanPipeline, tmp_path: Path) -> None:
    path = write_image(tmp_path / "wall.png", np.full((240, 320, 3), 180, np.uint8))
    analysis = detector.analyze(path)
    result = analysis.result
    assert result.status is Status.DONE and result.error is None
    assert result.verdict is Verdict.NO_FACE and result.score is None
    assert result.faces == [] and result.tracks == []
    # The picture is still shown (to see that there is no face), but points at no face frame.
    assert analysis.evidence is not None and result.evidence_frame_index is None


def test_tiny_face_counts_as_no_face(detector: ScanPipeline, face_photo: Path, tmp_path: Path) -> None:
    small = cv2.resize(read_bgr(face_photo), (50, 50), interpolation=cv2.INTER_AREA)
    canvas = paste(np.full((240, 240, 3), 128, np.uint8), np.asarray(small, np.uint8), 85, 85)
    result = detector.analyze(write_image(tmp_path / "tiny.png", canvas)).result
    assert detector.config.detection.min_face_size == 24
    assert result.verdict is Verdict.NO_FACE


def test_grayscale_photo(detector: ScanPipeline, face_photo: Path, tmp_path: Path) -> None:
    path = tmp_path / "grey.jpg"
    Image.open(face_photo).convert("L").save(path)
    result = detector.analyze(path).result
    assert result.status is Status.DONE and len(result.faces) == 1


def test_transparent_png(detector: ScanPipeline, face_photo: Path, tmp_path: Path) -> None:
    rgba = Image.open(face_photo).convert("RGBA")
    alpha = np.full((400, 400), 255, np.uint8)
    alpha[:, :60] = 0  # a transparent strip, like a cut-out portrait
    rgba.putalpha(Image.fromarray(alpha))
    path = tmp_path / "cutout.png"
    rgba.save(path)
    result = detector.analyze(path).result
    assert result.status is Status.DONE and len(result.faces) == 1


def test_exif_rotated_photo_is_scanned_upright(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    """A camera stores the pixels sideways and an EXIF tag saying "rotate 90° clockwise": the face
    is only found if the tag is honoured (YuNet does not find faces lying on their side)."""
    sideways = Image.open(face_photo).transpose(Image.Transpose.ROTATE_90)  # 90° counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90° clockwise
    tagged, untagged = tmp_path / "tagged.jpg", tmp_path / "untagged.jpg"
    sideways.save(tagged, exif=exif, quality=95)
    sideways.save(untagged, quality=95)
    assert detector.analyze(untagged).result.verdict is Verdict.NO_FACE
    result = detector.analyze(tagged).result
    assert len(result.faces) == 1


def test_many_faces(detector: ScanPipeline, shared_data: Path) -> None:
    result = detector.analyze(shared_data / "deepface_photos" / "selfie-many-people.jpg").result
    assert len(result.faces) >= 5
    assert len({f.track for f in result.faces}) == len(result.faces)


# --- bad input ------------------------------------------------------------------------------


def test_missing_path(detector: ScanPipeline, tmp_path: Path) -> None:
    result = detector.analyze(tmp_path / "nowhere.jpg").result
    assert_failed(result, ErrorCode.NOT_FOUND)
    assert result.path == str(tmp_path / "nowhere.jpg")


def test_empty_file(detector: ScanPipeline, tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    assert_failed(detector.analyze(tmp_path / "empty.jpg").result, ErrorCode.EMPTY_FILE)


def test_text_file(detector: ScanPipeline, tmp_path: Path) -> None:
    (tmp_path / "readme.jpg").write_text("hello\n" * 100)
    assert_failed(detector.analyze(tmp_path / "readme.jpg").result, ErrorCode.UNSUPPORTED_TYPE)


def test_unsupported_image_type(detector: ScanPipeline, tmp_path: Path) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "anim.gif")
    Image.new("RGB", (64, 64)).save(tmp_path / "scan.tiff")
    assert_failed(detector.analyze(tmp_path / "anim.gif").result, ErrorCode.UNSUPPORTED_TYPE)
    assert_failed(detector.analyze(tmp_path / "scan.tiff").result, ErrorCode.UNSUPPORTED_TYPE)


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_jpeg(detector: ScanPipeline, face_photo: Path, tmp_path: Path, keep: float) -> None:
    data = face_photo.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * keep)])
    assert_failed(detector.analyze(tmp_path / "cut.jpg").result, ErrorCode.CORRUPT_MEDIA)


def test_truncated_png(detector: ScanPipeline, face_photo: Path, tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    Image.open(face_photo).save(full)
    (tmp_path / "cut.png").write_bytes(full.read_bytes()[:20_000])
    assert_failed(detector.analyze(tmp_path / "cut.png").result, ErrorCode.CORRUPT_MEDIA)


def test_truncated_mp4(detector: ScanPipeline, real_video: Path, tmp_path: Path) -> None:
    data = real_video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    result = detector.analyze(tmp_path / "cut.mp4").result
    assert_failed(result, ErrorCode.CORRUPT_MEDIA)
    assert result.media_kind is MediaKind.VIDEO


def test_decompression_bomb(detector: ScanPipeline, tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(png_bomb(20_000, 20_000))
    assert_failed(detector.analyze(tmp_path / "bomb.png").result, ErrorCode.TOO_MANY_PIXELS)


def test_file_size_limit(detector: ScanPipeline, face_photo: Path) -> None:
    small_limit = detector.config.model_copy(update={"limits": MediaLimits(max_file_bytes=1000)})
    strict = ScanPipeline(small_limit, classifier=detector.classifier, face_detector=detector.face_detector)
    assert_failed(strict.analyze(face_photo).result, ErrorCode.FILE_TOO_LARGE)


def test_a_broken_model_gives_a_failed_result_not_a_crash(detector: ScanPipeline, face_photo: Path) -> None:
    class Exploding:
        max_side = 640

        def detect(self, image: np.ndarray, *, pixel_size: float = 1.0) -> list[object]:
            raise RuntimeError("simulated OpenCV failure")

    broken = ScanPipeline(detector.config, classifier=detector.classifier, face_detector=Exploding())  # type: ignore[arg-type]
    result = broken.analyze(face_photo).result
    assert_failed(result, ErrorCode.INTERNAL_ERROR)
    assert "simulated OpenCV failure" in result.error.message  # type: ignore[union-attr]


# --- videos ---------------------------------------------------------------------------------


def test_video_without_faces(detector: ScanPipeline, tmp_path: Path) -> None:
    path = write_video(tmp_path / "blank.mp4", 30, fps=15)
    result = detector.analyze(path).result
    assert result.status is Status.DONE and result.error is None
    assert result.media_kind is MediaKind.VIDEO
    assert result.verdict is Verdict.NO_FACE and result.score is None
    assert result.frames_sampled == detector.config.video.sample_frames == 8
    assert len(result.frames) == 8 and all(f.faces == 0 and f.max_score is None for f in result.frames)
    assert result.duration_s == pytest.approx(2.0)


def moving_face_video(path: Path, face: np.ndarray, frames: int = 24) -> Path:
    small = np.asarray(cv2.resize(face, (160, 160), interpolation=cv2.INTER_AREA), np.uint8)

    def draw(i: int) -> np.ndarray:
        return paste(np.full((240, 480, 3), 90, np.uint8), small, 20 + i * 10, 40)

    return write_video(path, frames, fps=12, size=(480, 240), draw=draw)


def test_video_with_one_moving_face_is_one_track(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    path = moving_face_video(tmp_path / "walk.avi", read_bgr(face_photo))
    analysis = detector.analyze(path)
    result = analysis.result
    assert result.status is Status.DONE
    assert result.frames_sampled == 8
    assert len(result.faces) == 8 and len(result.tracks) == 1
    track = result.tracks[0]
    assert track.frames == 8
    assert track.first_timestamp_s < track.last_timestamp_s <= result.duration_s  # type: ignore[operator]
    timestamps = [f.timestamp_s for f in result.frames]
    assert timestamps == sorted(timestamps)
    for frame in result.frames:
        assert frame.faces == 1 and frame.scores == {"0": frame.max_score}
    assert result.score == track.score
    # The evidence is the frame of the most suspicious face.
    worst = max(result.faces, key=lambda f: f.score)
    assert result.evidence_frame_index == worst.frame_index
    assert analysis.evidence is not None and analysis.evidence.shape == (240, 480, 3)
    assert "track" in result.timings_ms


@pytest.mark.slow
def test_real_video(detector: ScanPipeline, real_video: Path) -> None:
    config = detector.config
    result = detector.analyze(real_video).result
    assert result.status is Status.DONE and result.media_kind is MediaKind.VIDEO
    assert (result.width, result.height) == (1280, 720)
    assert result.frames_sampled == config.video.sample_frames
    assert result.duration_s is not None and result.duration_s > 5
    assert sum(f.faces > 0 for f in result.frames) >= config.video.sample_frames - 1
    main_track = max(result.tracks, key=lambda t: t.frames)
    assert main_track.frames >= config.video.sample_frames - 1  # one person, one track
    assert result.verdict in (Verdict.FAKE, Verdict.REAL)


def test_progress_is_reported_per_sampled_frame(detector: ScanPipeline, tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 5)
    calls: list[tuple[int, int]] = []
    detector.analyze(path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]  # 5 frames < 8 samples: total is 5


def test_card_controls_crop_size(tmp_path: Path, detector: ScanPipeline, face_photo: Path) -> None:
    from tests.support.tiny_model import build_tiny_classifier

    path = build_tiny_classifier(tmp_path, input_size=32)
    assert ModelCard.load(path.with_suffix(".json")).preprocessing.input_size == 32
    small = ScanPipeline(detector.config, classifier=Classifier(path), face_detector=detector.face_detector)
    assert len(small.analyze(face_photo).result.faces) == 1


# --- provenance: read for every opened file; a declaration of AI generation decides ---------------


def test_png_declaring_generator_parameters_is_fake_whatever_the_classifier_says(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    """An A1111 `parameters` chunk makes the file fake with the reason, even where the classifier
    calls every face real (threshold 1.0); the classifier's score and verdicts stay in the record."""
    never_fake = detector_with_threshold(detector, 1.0)
    declared = png_with_text(face_photo, tmp_path / "generated.png")
    plain = png_with_text(face_photo, tmp_path / "plain.png", {})
    result = never_fake.analyze(declared).result
    baseline = never_fake.analyze(plain).result

    assert result.status is Status.DONE and result.error is None
    assert result.verdict is Verdict.FAKE
    assert result.classifier_verdict is Verdict.REAL
    assert result.verdict_reason is not None and "Stable Diffusion web UI parameters" in result.verdict_reason
    # The classifier's own evidence is unchanged: same pixels, same score, faces and tracks still real.
    assert result.score is not None and result.score == baseline.score
    assert [f.score for f in result.faces] == [f.score for f in baseline.faces]
    assert {f.verdict for f in result.faces} == {t.verdict for t in result.tracks} == {Verdict.REAL}
    provenance = result.provenance
    assert provenance is not None and provenance.declared_ai
    assert provenance.reason == result.verdict_reason
    claim = next(c for c in provenance.claims if c.declared_ai)
    assert claim.source is ClaimSource.PNG_TEXT and "Steps: 30" in claim.raw["parameters"]
    assert "provenance" in result.timings_ms and result.timings_ms["provenance"] >= 0
    # The plain PNG: provenance read, nothing declared, the classifier decides.
    assert baseline.provenance is not None and not baseline.provenance.declared_ai
    assert baseline.verdict is baseline.classifier_verdict is Verdict.REAL
    assert baseline.verdict_reason is None
    again = DetectionResult.model_validate_json(result.model_dump_json())
    assert again.provenance == provenance and again.verdict_reason == result.verdict_reason


def test_plain_jpeg_has_provenance_without_claims_and_the_classifier_decides(
    detector: ScanPipeline, face_photo: Path
) -> None:
    result = detector.analyze(face_photo).result
    assert result.provenance is not None
    assert result.provenance.claims == [] and not result.provenance.declared_ai
    assert result.provenance.c2pa is None and result.provenance.errors == []
    assert result.verdict_reason is None
    assert result.verdict is result.classifier_verdict
    assert result.score is not None and result.threshold is not None
    assert result.verdict is (Verdict.FAKE if result.score >= result.threshold else Verdict.REAL)


def test_declared_ai_without_a_face_is_fake_with_no_score(detector: ScanPipeline, tmp_path: Path) -> None:
    wall = write_image(tmp_path / "wall.png", np.full((240, 320, 3), 180, np.uint8))
    declared = png_with_text(wall, tmp_path / "generated-wall.png")
    result = detector.analyze(declared).result
    assert result.status is Status.DONE
    assert result.verdict is Verdict.FAKE and result.classifier_verdict is Verdict.NO_FACE
    assert result.score is None and result.faces == [] and result.verdict_reason


def test_video_declaring_ai_in_xmp_is_fake(detector: ScanPipeline, tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 10)
    path.write_bytes(path.read_bytes() + xmp_packet("trainedAlgorithmicMedia"))  # after the boxes
    result = detector.analyze(path).result
    assert result.status is Status.DONE and result.media_kind is MediaKind.VIDEO
    assert result.verdict is Verdict.FAKE and result.classifier_verdict is Verdict.NO_FACE
    assert result.verdict_reason is not None and "trainedAlgorithmicMedia" in result.verdict_reason
    assert result.provenance is not None and result.provenance.claims[0].source is ClaimSource.XMP


def test_a_capture_source_type_changes_nothing(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "camera.jpg"
    path.write_bytes(face_photo.read_bytes() + xmp_packet("digitalCapture"))
    result = detector.analyze(path).result
    assert result.provenance is not None and len(result.provenance.claims) == 1
    assert not result.provenance.declared_ai
    assert result.verdict is result.classifier_verdict and result.verdict_reason is None


def test_a_failed_scan_keeps_its_provenance_and_stays_failed(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    """A PNG cut short after its text chunks: it cannot be decoded, and it says it was generated.
    Decision (docs/provenance.md): reported, never turned into a verdict."""
    full = png_with_text(face_photo, tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes(full.read_bytes()[:20_000])
    result = detector.analyze(tmp_path / "cut.png").result
    assert_failed(result, ErrorCode.CORRUPT_MEDIA)
    assert result.provenance is not None and result.provenance.declared_ai
    assert result.verdict_reason is None and result.classifier_verdict is None
    assert "provenance" in result.timings_ms


@pytest.mark.parametrize("case", ["missing", "too_large", "unsupported"])
def test_a_file_refused_before_it_is_opened_has_no_provenance(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path, case: str
) -> None:
    pipeline, path = detector, tmp_path / "nothing.png"
    if case == "too_large":
        small_limit = detector.config.model_copy(update={"limits": MediaLimits(max_file_bytes=1000)})
        pipeline = ScanPipeline(
            small_limit, classifier=detector.classifier, face_detector=detector.face_detector
        )
        path = png_with_text(face_photo, tmp_path / "big.png")
    elif case == "unsupported":
        path = tmp_path / "anim.gif"
        Image.new("RGB", (64, 64)).save(path)
    result = pipeline.analyze(path).result
    assert result.status is Status.FAILED and result.provenance is None
    assert "provenance" not in result.timings_ms


def test_the_reader_gets_the_pipeline_config_and_a_reader_failure_never_fails_a_scan(
    detector: ScanPipeline, face_photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ProvenanceConfig] = []

    def exploding(path: Path, config: ProvenanceConfig) -> Provenance:
        seen.append(config)
        raise RuntimeError("simulated reader bug")

    config = detector.config.model_copy(
        update={"provenance": ProvenanceConfig(max_claims=3, c2pa_enabled=False)}
    )
    pipeline = ScanPipeline(config, classifier=detector.classifier, face_detector=detector.face_detector)
    monkeypatch.setattr(pipeline_module, "read_provenance", exploding)
    result = pipeline.analyze(face_photo).result
    assert seen == [config.provenance]
    assert result.status is Status.DONE and len(result.faces) == 1
    assert result.provenance is not None and "simulated reader bug" in result.provenance.errors[0]
    assert result.verdict is result.classifier_verdict and result.verdict_reason is None


def test_records_made_before_provenance_still_load() -> None:
    old = '{"id": "abc", "path": "old.jpg", "status": "done", "verdict": "real", "score": 0.1}'
    result = DetectionResult.model_validate_json(old)
    assert result.provenance is None and result.verdict_reason is None and result.classifier_verdict is None


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    return make_pki()


def test_a_c2pa_ai_credential_decides_and_a_trusted_capture_credential_does_not(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path, pki: dict[str, bytes]
) -> None:
    """Signed content credentials on the face photo: one declaring AI generation (signer not on the
    trust list: it still counts), one declaring a camera capture (trusted through the pipeline's
    trust anchors: shown, never overriding the classifier)."""
    photo = face_photo.read_bytes()
    anchors = ProvenanceConfig(c2pa_trust_anchors_pem=pki["root"].decode())
    pipeline = ScanPipeline(
        detector.config.model_copy(update={"provenance": anchors}),
        classifier=detector_with_threshold(detector, 1.0).classifier,
        face_detector=detector.face_detector,
    )
    generated = tmp_path / "generated.jpg"
    generated.write_bytes(sign_c2pa(pki, photo, "image/jpeg", "trainedAlgorithmicMedia"))
    captured = tmp_path / "captured.jpg"
    captured.write_bytes(sign_c2pa(pki, photo, "image/jpeg", "digitalCapture"))

    ai = pipeline.analyze(generated).result
    assert ai.verdict is Verdict.FAKE and ai.classifier_verdict is Verdict.REAL
    assert ai.verdict_reason is not None and "trainedAlgorithmicMedia" in ai.verdict_reason
    assert ai.provenance is not None and ai.provenance.c2pa is not None
    assert ai.provenance.c2pa.validated and ai.provenance.c2pa.trusted
    assert ai.provenance.claims[0].source is ClaimSource.C2PA

    capture = pipeline.analyze(captured).result
    assert capture.verdict is capture.classifier_verdict is Verdict.REAL and capture.verdict_reason is None
    c2pa = capture.provenance.c2pa if capture.provenance else None
    assert c2pa is not None and c2pa.validation_state == "Trusted" and c2pa.signer == "Provenance Test Signer"
    assert capture.score == ai.score  # the same pixels: the classifier is not told about metadata


# --- decoding at the scale the work needs ----------------------------------------------------


@pytest.fixture(scope="module")
def phone_jpeg(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP phone photo (4032x3024 stored sideways, EXIF orientation 6) of a studio portrait."""
    from tests.support.hostile import phone_photo

    portrait = shared_data / "london" / "london_002_neutral.jpg"
    return phone_photo(portrait, tmp_path_factory.mktemp("phone") / "phone.jpg")


def _full_size_faces(detector: ScanPipeline, path: Path) -> list[tuple[float, float, float, float]]:
    from deepfake_detect.core.media.images import decode_image

    image = decode_image(path.read_bytes(), 10**9)
    return [face.box for face in detector.face_detector.detect(image)]


def test_a_12_mp_phone_photo_is_scanned_upright_and_its_boxes_are_in_original_pixels(
    detector: ScanPipeline, phone_jpeg: Path
) -> None:
    analysis = detector.analyze(phone_jpeg)
    result = analysis.result
    assert result.status is Status.DONE and (result.width, result.height) == (3024, 4032)
    # Detection on a 1/4 DCT decode (1008 px, for the detector's 640): the boxes of detecting
    # the full decode, to within a pixel of the detector's input (6.3 px here).
    (expected,) = _full_size_faces(detector, phone_jpeg)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert np.abs(np.array(face.box) - np.array(expected)).max() < 4032 / detector.face_detector.max_side
    # The crop-to-image transform maps the crop into original pixels: its centre lies in the box.
    matrix = np.array(face.crop_to_image)
    size = detector.classifier.geometry.size
    cx, cy = matrix @ np.array([size / 2, size / 2, 1.0])
    x, y, w, h = face.box
    assert x < cx < x + w and y < cy < y + h
    # The evidence is decoded only when asked for, at most 1280 px, with its scale.
    assert analysis._evidence is None
    assert analysis.evidence is not None and analysis.evidence.shape == (1280, 960, 3)
    assert analysis.evidence_scale == pytest.approx(1280 / 4032)


def _score_as_training_crops_it(
    detector: ScanPipeline, path: Path, landmarks: list[tuple[float, float]]
) -> tuple[float, int]:
    """The face's score with its crop made as training's crop cache makes it (``crop_face`` on the
    file opened on its own), and the decode scale it was read at."""
    from deepfake_detect.core.face_crop import crop_face, crop_factor

    points = np.asarray(landmarks, np.float64)
    geometry = detector.classifier.geometry
    crop = crop_face(ImageSource(path.read_bytes(), MediaLimits()), points, geometry).crop
    return float(detector.classifier.score([crop]).probabilities[0]), crop_factor(points, geometry)


def test_faces_are_cropped_at_the_scale_they_need_as_training_cropped_them(
    detector: ScanPipeline, face_photo: Path, phone_jpeg: Path, shared_data: Path, tmp_path: Path
) -> None:
    """A face's crop is warped from a decode at the coarsest scale that still gives a source pixel
    per crop pixel, the same whatever else the file holds and whatever was decoded first: the crop
    training made."""
    face = read_bgr(face_photo)
    canvas = np.full((2400, 3200, 3), 70, np.uint8)
    canvas = paste(canvas, np.asarray(cv2.resize(face, (1600, 1600)), np.uint8), 1500, 300)
    canvas = paste(canvas, np.asarray(cv2.resize(face, (120, 120)), np.uint8), 200, 1900)
    two = write_image(tmp_path / "two.jpg", canvas, quality=92)
    real_photo = shared_data / "deepface_photos" / "img2.jpg"
    factors: set[int] = set()
    for path, faces in ((two, 2), (phone_jpeg, 1), (real_photo, 1)):
        result = detector.analyze(path).result
        assert len(result.faces) == faces
        for found in result.faces:
            score, factor = _score_as_training_crops_it(detector, path, found.landmarks)
            assert found.score == pytest.approx(score, abs=2e-3)
            factors.add(factor)
    # The test model's crop is 64 px: the 120 px face is read in full, the others (389 px and
    # more) hold 8 source pixels per crop pixel and are read from 1/8 decodes.
    assert factors == {1, 8}
    # The same boxes as detection on the full decode, to within one pixel of the detector's input.
    detector_pixel = 3200 / detector.face_detector.max_side
    boxes = sorted(_full_size_faces(detector, two))
    for got, want in zip(sorted(f.box for f in detector.analyze(two).result.faces), boxes, strict=True):
        assert np.abs(np.array(got) - np.array(want)).max() < max(detector_pixel, 0.02 * want[2])


@pytest.mark.parametrize(
    ("name", "width", "height", "code"),
    [
        ("line.png", 65_000, 1, ErrorCode.BAD_DIMENSIONS),
        ("long.png", 50_000_000, 1, ErrorCode.BAD_DIMENSIONS),
        ("dense.png", 10_000, 5_000, ErrorCode.TOO_MANY_PIXELS),
    ],
)
def test_hostile_images_are_refused_with_a_code(
    detector: ScanPipeline, tmp_path: Path, name: str, width: int, height: int, code: ErrorCode
) -> None:
    from tests.support.hostile import flat_png

    path = tmp_path / name
    path.write_bytes(flat_png(width, height))
    assert_failed(detector.analyze(path).result, code)


def test_a_jpeg_cut_short_and_closed_again_fails_instead_of_scoring_grey(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    from tests.support.hostile import cut_and_closed

    path = tmp_path / "cut.jpg"
    path.write_bytes(cut_and_closed(face_photo.read_bytes(), 0.6))
    assert_failed(detector.analyze(path).result, ErrorCode.CORRUPT_MEDIA)


def test_a_large_video_frame_is_kept_only_downscaled_for_the_evidence(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    from tests.support.hostile import moving_face_frames, write_frames

    frames = moving_face_frames(read_bgr(face_photo), (1920, 1080), 6)
    path = write_frames(tmp_path / "hd.avi", frames, fps=6, fourcc="MJPG")
    analysis = detector.analyze(path)
    result = analysis.result
    assert (result.width, result.height) == (1920, 1080) and len(result.tracks) == 1
    assert analysis.evidence is not None and analysis.evidence.shape == (720, 1280, 3)
    assert analysis.evidence_scale == pytest.approx(1280 / 1920)
    worst = max(result.faces, key=lambda f: f.score)
    assert result.evidence_frame_index == worst.frame_index


def test_a_fake_verdict_names_the_kind_its_evidence_points_to(
    detector: ScanPipeline, face_photo: Path, tmp_path: Path
) -> None:
    path = build_tiny_classifier(tmp_path, kinds=True)
    with_kinds = ScanPipeline(
        detector.config, classifier=Classifier(path), face_detector=detector.face_detector
    )
    result = with_kinds.analyze(face_photo).result
    face = result.faces[0]
    assert face.kinds is not None and set(face.kinds) == {"generated", "swapped"}
    expected = evidence_kind(face.kinds, with_kinds.classifier.card.kinds)
    assert expected in {"generated", "swapped"}
    assert (result.evidence_kind == expected) is (result.verdict is Verdict.FAKE)
    # on a card whose fake threshold every face passes, the kind is always named
    card = with_kinds.classifier.card.model_copy(update={"threshold": 0.0})
    always = ScanPipeline(
        detector.config, classifier=Classifier(path, card), face_detector=detector.face_detector
    )
    assert always.analyze(face_photo).result.evidence_kind == expected


def test_the_evidence_kind_is_the_one_furthest_above_its_own_threshold() -> None:
    card = {"generated": KindEvidence(threshold=0.9), "swapped": KindEvidence(threshold=0.3)}
    # 0.92 is barely above 0.9 (2 % of its room); 0.5 is well above 0.3 (29 % of its room)
    assert evidence_kind({"generated": 0.92, "swapped": 0.5}, card) == "swapped"
    assert evidence_kind({"generated": 0.99, "swapped": 0.5}, card) == "generated"
    # neither above: the one nearer its threshold
    assert evidence_kind({"generated": 0.8, "swapped": 0.1}, card) == "generated"
    assert evidence_kind(None, card) is None
    assert evidence_kind({"generated": 0.5}, {}) is None


def test_a_score_between_the_two_thresholds_is_inconclusive(
    detector: ScanPipeline, couple_photo: Path
) -> None:
    low, high = sorted(f.score for f in detector.analyze(couple_photo).result.faces)
    card = detector.classifier.card.model_copy(
        update={"threshold": high + (1 - high) / 2, "threshold_real": (low + high) / 2}
    )
    banded = ScanPipeline(
        detector.config,
        classifier=Classifier(detector.config.classifier_path, card),
        face_detector=detector.face_detector,
    )
    result = banded.analyze(couple_photo).result
    assert (result.threshold, result.threshold_real) == (card.threshold, card.threshold_real)
    assert sorted(t.verdict for t in result.tracks) == sorted([Verdict.INCONCLUSIVE, Verdict.REAL])
    assert result.verdict is Verdict.INCONCLUSIVE  # the most suspicious face decides
    assert result.evidence_kind is None  # named for fake verdicts only
    assert band(high, card.threshold, None) is Verdict.REAL  # a card without t_real: two bands
    assert band(card.threshold, card.threshold, card.threshold_real) is Verdict.FAKE
