"""Face-crop manifest: every source image detected and aligned once with the core, then cached.

The shared face crops (DFDC, UTKFace) are tight, so each image is padded with a grey border
before detection; YuNet then sees a whole face with some background. All sources go through the
same padding, detector and ``align_face``, so real and fake crops are framed alike. Each face also
gets dlib's 68 landmarks (the shape of the self-blending mask), and the faces are linked into
identity groups (``training.identity_split``) before the split is drawn: the split (by person) is
written into the manifest, so a second run reuses both the detections and the split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.errors import MediaError
from deepfake_detect.core.face_crop import Picture, crop_face
from deepfake_detect.core.faces import Face, FaceDetector
from deepfake_detect.core.media.images import ImageSource
from deepfake_detect.core.media.video import FramePicture
from training import identity_split
from training.sources import DFDC, REAL, SourceImage, list_sources

log = logging.getLogger(__name__)

MANIFEST_VERSION = 2
PAD_FRACTION = 0.25  # grey border on every side, as a fraction of the longest image side
PAD_VALUE = (127, 127, 127)
SPLITS = ("train", "val", "test")
# How crops are read from their files, in the crop cache's name: "scaled" is serving's
# ``crop_face`` (a decode at the scale the face needs); the cache of full-decode crops is not reused.
CROP_PATH = "scaled"
# Training reads files the service would refuse for their size (a 50-megapixel ceiling is for
# uploads); the shape checks stay.
TRAINING_LIMITS = MediaLimits(max_image_pixels=200_000_000, max_side=40_000)


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
    landmarks68: list[list[float]] | None = None  # dlib's 68 points, original image pixels
    image_size: list[int] = field(default_factory=list)  # height, width of the source image
    identity: str = ""  # the merged identity group (person / near-duplicates) the split follows

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


def assign_split(group: str, spec: SplitSpec, fractions: tuple[float, float] | None = None) -> str:
    """Deterministic split of a group from a hash of its id: stable as data is added or removed.
    ``fractions`` (val, test) overrides the spec's for small sets that need larger held-out parts."""
    val, test = fractions or (spec.val, spec.test)
    digest = hashlib.sha256(f"{spec.seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def is_grayscale(image: NDArray[np.uint8]) -> bool:
    """True when the colour channels (nearly) agree: JPEG chroma noise stays under 2 levels."""
    small = image[::4, ::4].astype(np.int16)
    spread = np.abs(small[..., 0] - small[..., 1]).mean() + np.abs(small[..., 1] - small[..., 2]).mean()
    return bool(spread < 2.0)


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


# Identity embeddings cost about 80 ms a face on one core: computed where identities matter and
# are unknown (DFDC actors across videos, the photo sets' recurring people), not for UTKFace's
# 8,700 single-image strangers, whose duplicates the thumbnails and hashes catch.
EMBED_SOURCES = frozenset({DFDC, "hardfake", "london", "web_photos", "deepface"})

_worker: dict[str, Any] = {}


def _init_worker(detector_path: str) -> None:
    cv2.setNumThreads(1)
    _worker["detector"] = FaceDetector(Path(detector_path))


def _process(task: tuple[SourceImage, str]) -> dict[str, Any]:
    """Detect, landmark and fingerprint one source image (runs in a pool worker)."""
    item, data_dir = task
    path = Path(data_dir) / item.key
    raw = path.read_bytes() if path.is_file() else b""
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR) if raw else None
    if decoded is None:
        return {"item": item, "failure": "unreadable image"}
    image = np.asarray(decoded, np.uint8)
    found = detect_padded(_worker["detector"], image)
    if not found:
        return {"item": item, "failure": "no face detected"}
    if not item.all_faces:
        found = [max(found, key=lambda f: f.box[2] * f.box[3])]  # the subject of a face crop
    faces = []
    rgb = identity_split.to_rgb(image)
    for face in found:
        points, shape = identity_split.landmarks68(rgb, face.box)
        embed = (
            identity_split.embedding(rgb, shape)
            if item.source in EMBED_SOURCES and item.label == REAL
            else None
        )
        faces.append(
            {
                "face": face,
                "landmarks68": points,
                "embedding": embed,
                "thumb": identity_split.thumbnail(image, face.landmarks),
            }
        )
    return {
        "item": item,
        "faces": faces,
        "grayscale": is_grayscale(image),
        "sha": hashlib.sha256(raw).hexdigest(),
        "shape": list(image.shape[:2]),
    }


def face_records(out: dict[str, Any], split: str = "") -> list[FaceRecord]:
    """The manifest records of one processed image (``_process``'s output), one per face kept."""
    item: SourceImage = out["item"]
    records = []
    for i, found in enumerate(out["faces"]):
        face: Face = found["face"]
        records.append(
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
                grayscale=out["grayscale"],
                attrs=dict(item.attrs),
                landmarks68=np.round(found["landmarks68"].astype(np.float64), 1).tolist(),
                image_size=out["shape"],
                identity=item.group if split else "",
            )
        )
    return records


def link_identities(
    records: list[FaceRecord],
    shas: list[str],
    thumbs: NDArray[np.float32],
    embeddings: dict[int, NDArray[np.float32]],
) -> dict[str, str]:
    """Group -> identity component, merging groups joined by a hash, a thumbnail or an embedding."""
    uf = identity_split.UnionFind()
    for r in records:
        uf.find(r.group)
    by_sha: dict[str, str] = {}
    for r, sha in zip(records, shas, strict=True):
        uf.union(by_sha.setdefault(sha, r.group), r.group)
    for i, j in identity_split.close_pairs(thumbs, min_dot=identity_split.THUMB_CORRELATION):
        uf.union(records[i].group, records[j].group)
    if embeddings:
        order = sorted(embeddings)
        for a, b in identity_split.close_pairs(
            np.stack([embeddings[i] for i in order]), max_distance=identity_split.EMBEDDING_DISTANCE
        ):
            uf.union(records[order[a]].group, records[order[b]].group)
    return {r.group: uf.find(r.group) for r in records}


def assign_splits(
    faces: list[FaceRecord],
    items_of_face: list[SourceImage],
    shas: list[str],
    thumbs: list[NDArray[np.float32]],
    embeddings: dict[int, NDArray[np.float32]],
    spec: SplitSpec,
) -> None:
    """Link the faces into identities and give every identity one split (in place)."""
    component = link_identities(
        faces, shas, np.stack(thumbs) if thumbs else np.zeros((0, 1), np.float32), embeddings
    )
    # A component's members may come from sources with their own held-out fractions: the
    # largest fractions win, and an evaluation-only member holds the whole component out.
    fractions: dict[str, tuple[float, float]] = {}
    eval_only: dict[str, bool] = defaultdict(bool)
    fixed: dict[str, str] = {}
    for record, item in zip(faces, items_of_face, strict=True):
        name = component[record.group]
        if item.split:
            fixed.setdefault(name, item.split)
        if item.fractions:
            fractions[name] = max(fractions.get(name, item.fractions), item.fractions)
        eval_only[name] |= item.eval_only
    for record in faces:
        name = component[record.group]
        record.identity = name
        record.split = (
            "test" if eval_only[name] else fixed.get(name) or assign_split(name, spec, fractions.get(name))
        )
    sizes: dict[str, int] = defaultdict(int)
    for record in faces:
        sizes[record.identity] += 1
    log.info(
        "%d faces in %d identities (largest %d faces)",
        len(faces),
        len(sizes),
        max(sizes.values(), default=0),
    )


def build_manifest(
    data_dir: Path,
    detector_path: Path,
    spec: SplitSpec,
    limit_per_source: int | None = None,
    workers: int = 2,
) -> Manifest:
    """Detect the faces of every source image (or the first ``limit_per_source`` of each), link
    them into identities and draw the split by identity."""
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
    shas: list[str] = []
    thumbs: list[NDArray[np.float32]] = []
    embeddings: dict[int, NDArray[np.float32]] = {}
    items_of_face: list[SourceImage] = []
    start = time.monotonic()
    tasks = [(item, str(data_dir)) for item in items]
    context = multiprocessing.get_context("spawn")  # no forked torch or OpenCV thread state
    with context.Pool(max(1, workers), initializer=_init_worker, initargs=(str(detector_path),)) as pool:
        for n, out in enumerate(pool.imap(_process, tasks, chunksize=32)):
            item = out["item"]
            if "failure" in out:
                failures.append({"key": item.key, "reason": out["failure"]})
                continue
            for record, found in zip(face_records(out), out["faces"], strict=True):
                if found["embedding"] is not None:
                    embeddings[len(faces)] = found["embedding"]
                faces.append(record)
                shas.append(out["sha"])
                thumbs.append(found["thumb"])
                items_of_face.append(item)
            if (n + 1) % 2000 == 0:
                log.info("detected %d/%d images in %.0f s", n + 1, len(items), time.monotonic() - start)
    assign_splits(faces, items_of_face, shas, thumbs, embeddings, spec)
    log.info("detection and identities took %.0f s", time.monotonic() - start)
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
    manifest = build_manifest(data_dir, detector_path, spec, limit_per_source)
    save_manifest(manifest, path)
    log.info("manifest: %d faces, %d failures", len(manifest.faces), len(manifest.failures))
    return manifest


@dataclass
class Crops:
    """Aligned crops of every manifest face at one geometry, with landmarks in crop pixels."""

    images: NDArray[np.uint8]  # N x S x S x 3, BGR
    landmarks: NDArray[np.float32]  # N x 5 x 2
    landmarks68: NDArray[np.float32]  # N x 68 x 2 (NaN where dlib gave none)


def _to_crop(points: NDArray[np.floating], crop_to_image: NDArray[np.float64]) -> NDArray[np.float32]:
    to_crop = cv2.invertAffineTransform(crop_to_image)
    return (np.asarray(points, np.float64) @ to_crop[:, :2].T + to_crop[:, 2]).astype(np.float32)


def read_picture(path: Path) -> Picture:
    """A source image as serving reads it (``ImageSource``: EXIF orientation, alpha on white,
    JPEG scales decoded from the DCT coefficients). The few files the service would refuse
    (tiny or oddly shaped stills) are decoded by OpenCV and reduced with a box filter."""
    raw = path.read_bytes()
    try:
        return ImageSource(raw, TRAINING_LIMITS)
    except MediaError:
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise
        return FramePicture(np.asarray(decoded, np.uint8))


def make_crop(
    picture: Picture, face: FaceRecord, geometry: CropGeometry
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32]]:
    """Serving's aligned crop of one face (``crop_face``: the scale its size needs), and its 5 and
    68 landmarks mapped into the crop."""
    aligned = crop_face(picture, np.asarray(face.landmarks, dtype=np.float64), geometry)
    points68 = (
        _to_crop(np.asarray(face.landmarks68), aligned.crop_to_image)
        if face.landmarks68
        else np.full((68, 2), np.nan, np.float32)
    )
    return aligned.crop, _to_crop(np.asarray(face.landmarks), aligned.crop_to_image), points68


def _geometry_tag(geometry: CropGeometry) -> str:
    return (
        f"s{geometry.size}_m{geometry.margin:g}_sh{geometry.shift:g}_{geometry.border}"
        f"{'-'.join(map(str, geometry.fill)) if geometry.border == 'constant' else ''}"
    )


def get_crops(manifest: Manifest, cache_dir: Path, geometry: CropGeometry) -> Crops:
    """Crops for every face in the manifest, cached as .npy next to it."""
    stem = f"crops_{CROP_PATH}_{manifest.digest()}_{_geometry_tag(geometry)}"
    paths = {name: cache_dir / f"{stem}.{name}.npy" for name in ("images", "landmarks", "landmarks68")}
    if all(p.is_file() for p in paths.values()):
        return Crops(
            np.load(paths["images"], mmap_mode="r"),
            np.load(paths["landmarks"]),
            np.load(paths["landmarks68"]),
        )
    data_dir = Path(manifest.data_dir)
    size = geometry.size
    images = np.zeros((len(manifest.faces), size, size, 3), np.uint8)
    points = np.zeros((len(manifest.faces), 5, 2), np.float32)
    points68 = np.zeros((len(manifest.faces), 68, 2), np.float32)
    last_key, picture = "", None
    for i, face in enumerate(manifest.faces):
        if face.key != last_key:
            picture = read_picture(data_dir / face.key)
            last_key = face.key
        assert picture is not None
        images[i], points[i], points68[i] = make_crop(picture, face, geometry)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(paths["landmarks"], points)
    np.save(paths["landmarks68"], points68)
    tmp = cache_dir / f"{stem}.tmp.npy"
    np.save(tmp, images)
    tmp.replace(paths["images"])
    return Crops(np.load(paths["images"], mmap_mode="r"), points, points68)
