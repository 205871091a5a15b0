"""Face-crop manifest: every source image detected and aligned once with the core, then cached.

The shared face crops (DFDC, UTKFace) are tight, so each image is padded with a grey border
before detection; YuNet then sees a whole face with some background. All sources go through the
same padding, detector and ``align_face``, so real and fake crops are framed alike (the
hardfake set's real and GAN images come from different sources, and a model could otherwise
learn the framing). The split (by identity / original video) is written into the manifest, so a
second run reuses both the detections and the split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.align import align_face
from deepfake_detect.core.faces import Face, FaceDetector
from training.sources import SourceImage, list_sources

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
PAD_FRACTION = 0.25  # grey border on every side, as a fraction of the longest image side
PAD_VALUE = (127, 127, 127)
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    """Fractions of groups held out; the rest trains. ``seed`` salts the group hash."""

    val: float = 0.10
    test: float = 0.15
    seed: int = 0


@dataclass
class FaceRecord:
    key: str
    source: str
    label: int
    method: str
    group: str
    split: str
    face_index: int
    landmarks: list[list[float]]  # 5 x 2, original image pixels
    box: list[float]  # x, y, w, h in original image pixels
    detector_score: float
    grayscale: bool
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def face_size(self) -> float:
        return min(self.box[2], self.box[3])


@dataclass
class Manifest:
    faces: list[FaceRecord]
    failures: list[dict[str, str]]
    split: SplitSpec
    data_dir: str

    def select(self, split: str | None = None, **where: Any) -> list[int]:
        """Indices of faces in ``split`` whose attributes equal ``where``."""
        return [
            i
            for i, f in enumerate(self.faces)
            if (split is None or f.split == split) and all(getattr(f, k) == v for k, v in where.items())
        ]

    def digest(self) -> str:
        """Changes whenever a face, its landmarks or its split changes: keys the crop cache."""
        h = hashlib.sha256()
        for f in self.faces:
            h.update(f"{f.key}|{f.face_index}|{f.split}|{f.landmarks}".encode())
        return h.hexdigest()[:16]


def assign_split(group: str, spec: SplitSpec) -> str:
    """Deterministic split of a group from a hash of its id: stable as data is added or removed."""
    digest = hashlib.sha256(f"{spec.seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < spec.test:
        return "test"
    if u < spec.test + spec.val:
        return "val"
    return "train"


def is_grayscale(image: NDArray[np.uint8]) -> bool:
    """True when the colour channels (nearly) agree: JPEG chroma noise stays under 2 levels."""
    small = image[::4, ::4].astype(np.int16)
    spread = np.abs(small[..., 0] - small[..., 1]).mean() + np.abs(small[..., 1] - small[..., 2]).mean()
    return bool(spread < 2.0)


def _read(path: Path) -> NDArray[np.uint8] | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, np.uint8)


def detect_padded(detector: FaceDetector, image: NDArray[np.uint8]) -> list[Face]:
    """Faces of ``image`` found on a grey-padded copy, in the coordinates of ``image``."""
    height, width = image.shape[:2]
    pad = round(PAD_FRACTION * max(height, width))
    padded = np.asarray(
        cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=PAD_VALUE), np.uint8
    )
    faces = []
    for face in detector.detect(padded):
        x, y, w, h = face.box
        cx, cy = x - pad + w / 2, y - pad + h / 2
        if not (0 <= cx < width and 0 <= cy < height):
            continue  # a "face" found in the border or mostly outside the picture
        faces.append(Face(box=(x - pad, y - pad, w, h), landmarks=face.landmarks - pad, score=face.score))
    return faces


def _records(item: SourceImage, faces: list[Face], split: str, grayscale: bool) -> list[FaceRecord]:
    if not item.all_faces:
        faces = [max(faces, key=lambda f: f.box[2] * f.box[3])]  # the subject of a face crop
    return [
        FaceRecord(
            key=item.key,
            source=item.source,
            label=item.label,
            method=item.method,
            group=item.group,
            split=split,
            face_index=i,
            landmarks=np.round(face.landmarks.astype(np.float64), 2).tolist(),
            box=[round(v, 2) for v in face.box],
            detector_score=round(face.score, 4),
            grayscale=grayscale,
            attrs=dict(item.attrs),
        )
        for i, face in enumerate(faces)
    ]


def build_manifest(
    data_dir: Path, detector: FaceDetector, spec: SplitSpec, limit_per_source: int | None = None
) -> Manifest:
    """Detect the faces of every source image (or the first ``limit_per_source`` of each)."""
    items = list_sources(data_dir)
    if limit_per_source is not None:
        kept: dict[tuple[str, int], int] = {}
        subset = []
        for item in items:
            n = kept.get((item.source, item.label), 0)
            if n < limit_per_source:
                kept[(item.source, item.label)] = n + 1
                subset.append(item)
        items = subset
    faces: list[FaceRecord] = []
    failures: list[dict[str, str]] = []
    start = time.monotonic()
    for n, item in enumerate(items):
        image = _read(data_dir / item.key)
        if image is None:
            failures.append({"key": item.key, "reason": "unreadable image"})
            continue
        found = detect_padded(detector, image)
        if not found:
            failures.append({"key": item.key, "reason": "no face detected"})
            continue
        split = "test" if item.eval_only else assign_split(item.group, spec)
        faces.extend(_records(item, found, split, is_grayscale(image)))
        if (n + 1) % 2000 == 0:
            log.info("detected %d/%d images in %.0f s", n + 1, len(items), time.monotonic() - start)
    return Manifest(faces=faces, failures=failures, split=spec, data_dir=str(data_dir))


def save_manifest(manifest: Manifest, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "version": MANIFEST_VERSION,
        "pad_fraction": PAD_FRACTION,
        "data_dir": manifest.data_dir,
        "split": asdict(manifest.split),
        "faces": [asdict(f) for f in manifest.faces],
        "failures": manifest.failures,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def load_manifest(path: Path) -> Manifest | None:
    """The cached manifest, or None when it is missing or was made by another version."""
    if not path.is_file():
        return None
    payload = json.loads(path.read_text())
    if payload.get("version") != MANIFEST_VERSION or payload.get("pad_fraction") != PAD_FRACTION:
        return None
    return Manifest(
        faces=[FaceRecord(**f) for f in payload["faces"]],
        failures=payload["failures"],
        split=SplitSpec(**payload["split"]),
        data_dir=payload["data_dir"],
    )


def get_manifest(
    data_dir: Path, cache_dir: Path, detector_path: Path, spec: SplitSpec, limit_per_source: int | None = None
) -> Manifest:
    """Load the cached manifest when it matches the request, else detect everything and cache it."""
    name = "manifest.json" if limit_per_source is None else f"manifest_limit{limit_per_source}.json"
    path = cache_dir / name
    cached = load_manifest(path)
    if cached is not None and cached.split == spec and cached.data_dir == str(data_dir):
        return cached
    log.info("building the face manifest (detect + align every image once) into %s", path)
    manifest = build_manifest(data_dir, FaceDetector(detector_path), spec, limit_per_source)
    save_manifest(manifest, path)
    log.info("manifest: %d faces, %d failures", len(manifest.faces), len(manifest.failures))
    return manifest


@dataclass
class Crops:
    """Aligned crops of every manifest face at one size and margin, with landmarks in crop pixels."""

    images: NDArray[np.uint8]  # N x S x S x 3, BGR
    landmarks: NDArray[np.float32]  # N x 5 x 2


def make_crop(
    image: NDArray[np.uint8], landmarks: NDArray[np.floating], size: int, margin: float
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """The core's aligned crop of one face, and its landmarks mapped into the crop."""
    aligned = align_face(image, np.asarray(landmarks, dtype=np.float32), size, margin)
    to_crop = cv2.invertAffineTransform(aligned.crop_to_image)
    points = np.asarray(landmarks, dtype=np.float64) @ to_crop[:, :2].T + to_crop[:, 2]
    return aligned.crop, points.astype(np.float32)


def get_crops(manifest: Manifest, cache_dir: Path, size: int, margin: float) -> Crops:
    """Crops for every face in the manifest, cached as .npy next to it."""
    stem = f"crops_{manifest.digest()}_s{size}_m{margin:g}"
    images_path, points_path = cache_dir / f"{stem}.images.npy", cache_dir / f"{stem}.landmarks.npy"
    if images_path.is_file() and points_path.is_file():
        return Crops(np.load(images_path, mmap_mode="r"), np.load(points_path))
    data_dir = Path(manifest.data_dir)
    images = np.zeros((len(manifest.faces), size, size, 3), np.uint8)
    points = np.zeros((len(manifest.faces), 5, 2), np.float32)
    last_key, image = "", None
    for i, face in enumerate(manifest.faces):
        if face.key != last_key:
            image = _read(data_dir / face.key)
            last_key = face.key
        assert image is not None  # the manifest only holds images that were read once already
        images[i], points[i] = make_crop(image, np.asarray(face.landmarks), size, margin)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(points_path, points)
    tmp = cache_dir / f"{stem}.tmp.npy"
    np.save(tmp, images)
    tmp.replace(images_path)
    return Crops(np.load(images_path, mmap_mode="r"), points)
