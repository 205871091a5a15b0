"""Training's crop cache reads each face as serving reads it: ``crop_face`` on the file opened as
the service opens it, at the scale the face needs (issue 21, item 5: train on what serving sees)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.face_crop import crop_face, crop_factor
from deepfake_detect.core.media.images import ImageSource
from deepfake_detect.core.pipeline import ScanPipeline
from tests.support.hostile import phone_photo
from training.manifest import FaceRecord, Manifest, SplitSpec, get_crops


def record(key: str, landmarks: list[tuple[float, float]]) -> FaceRecord:
    return FaceRecord(
        key=key,
        source="london",
        label=0,
        method="real",
        group=key,
        split="test",
        face_index=0,
        landmarks=[list(p) for p in landmarks],
        box=[0.0, 0.0, 1.0, 1.0],
        detector_score=1.0,
        grayscale=False,
    )


def test_the_crop_cache_holds_the_crops_the_service_classifies(
    detector: ScanPipeline, shared_dir: Path, tmp_path: Path
) -> None:
    portrait = shared_dir / "data" / "london" / "london_002_neutral.jpg"
    phone = phone_photo(portrait, tmp_path / "phone.jpg")  # 12 MP, stored sideways (EXIF 6)
    image = cv2.imread(str(portrait))
    assert image is not None
    small = tmp_path / "small.png"  # a 240 px wide PNG: decoded in full by Pillow
    cv2.imwrite(str(small), cv2.resize(image, (240, round(240 * image.shape[0] / image.shape[1]))))
    records, served = [], []
    for path in (phone, small):
        analysis = detector.analyze(path, pictures=True)
        (face,) = analysis.result.faces
        records.append(record(path.name, face.landmarks))
        served.append(analysis.crops[0])
    manifest = Manifest(faces=records, failures=[], split=SplitSpec(), data_dir=str(tmp_path))
    geometry = detector.classifier.geometry
    cached = get_crops(manifest, tmp_path / "cache", geometry).images
    for i, (path, kept) in enumerate(zip((phone, small), records, strict=True)):
        points = np.asarray(kept.landmarks, np.float64)
        # Exactly serving's crop of those landmarks, at the scale serving reads them...
        expected = crop_face(ImageSource(path.read_bytes(), MediaLimits()), points, geometry).crop
        assert np.array_equal(cached[i], expected)
        # ... and what the pipeline classified (its landmarks are rounded to 0.1 px in the record).
        assert np.abs(cached[i].astype(int) - served[i]).mean() < 1.0
    # Both are read at a reduced scale for the 64 px test crop: the phone photo's face from a 1/8
    # DCT decode, the PNG's from its full decode reduced 2x2 by Pillow.
    assert crop_factor(np.asarray(records[0].landmarks), geometry) == 8
    assert crop_factor(np.asarray(records[1].landmarks), geometry) == 2
