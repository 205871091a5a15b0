"""The labelled images under ``<shared>/data`` (see its SOURCES.md), one record per source file.

Every record carries the group it must be split by: a DFDC real and its fakes share their
original video, so they always land in the same split. UTKFace and the hardfake portraits carry
no identity ids, so each file is its own group (the same person may appear twice in UTKFace:
a known, unavoidable leak, stated in the model card).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

REAL, FAKE = 0, 1

# source names, used for sampling weights, reports and subgroup metrics
DFDC = "dfdc"
UTKFACE = "utkface"
HARDFAKE = "hardfake"
DEEPFACE = "deepface"

UTK_RACES = ("white", "black", "asian", "indian", "other")
UTK_GENDERS = ("male", "female")


@dataclass(frozen=True)
class SourceImage:
    key: str  # path relative to the data folder: the stable id of the image
    source: str
    label: int
    method: str  # "real", or how the fake was made
    group: str  # identity / original video: the unit of the split
    attrs: dict[str, str] = field(default_factory=dict)
    eval_only: bool = False  # never trained on (held out as a whole)
    all_faces: bool = False  # keep every detected face, not only the main one


def _dfdc(data: Path) -> list[SourceImage]:
    root = data / "dfdc_faces"
    items = []
    with (root / "pairs.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            group = f"dfdc:{row['original_video']}"
            items.append(SourceImage(f"dfdc_faces/{row['real_file']}", DFDC, REAL, "real", group))
            items.append(SourceImage(f"dfdc_faces/{row['fake_file']}", DFDC, FAKE, "dfdc_faceswap", group))
    return items


def parse_utkface_name(name: str) -> dict[str, str] | None:
    """``age_gender_race_datetime.jpg.chip.jpg`` -> attributes; None when the name is malformed."""
    parts = name.split("_")
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    age, gender, race = (int(p) for p in parts[:3])
    if gender >= len(UTK_GENDERS) or race >= len(UTK_RACES):
        return None
    return {"age": str(age), "gender": UTK_GENDERS[gender], "race": UTK_RACES[race]}


def _utkface(data: Path) -> list[SourceImage]:
    items = []
    for path in sorted((data / "utkface").glob("*.jpg")):
        attrs = parse_utkface_name(path.name)
        if attrs is None:
            continue  # a few UTKFace files have malformed names: no group labels, skip them
        key = f"utkface/{path.name}"
        items.append(SourceImage(key, UTKFACE, REAL, "real", f"utk:{path.name}", attrs))
    return items


def _hardfake(data: Path) -> list[SourceImage]:
    items = []
    for folder, label, method in (("real", REAL, "real"), ("fake", FAKE, "stylegan2")):
        for path in sorted((data / "hardfakevsrealfaces" / folder).glob("*.jpg")):
            key = f"hardfakevsrealfaces/{folder}/{path.name}"
            items.append(SourceImage(key, HARDFAKE, label, method, f"hardfake:{key}"))
    return items


def _deepface(data: Path) -> list[SourceImage]:
    """Full photos of public figures: real faces in context, evaluation only (too few to train)."""
    return [
        SourceImage(
            f"deepface_photos/{p.name}",
            DEEPFACE,
            REAL,
            "real",
            f"deepface:{p.name}",
            eval_only=True,
            all_faces=True,
        )
        for p in sorted((data / "deepface_photos").glob("*.jpg"))
    ]


def list_sources(data: Path) -> list[SourceImage]:
    """All labelled still images; raises if the data folder is not there."""
    if not (data / "dfdc_faces" / "pairs.csv").is_file():
        raise FileNotFoundError(f"training data not found under {data} (expected dfdc_faces/pairs.csv)")
    return _dfdc(data) + _utkface(data) + _hardfake(data) + _deepface(data)


def ffpp_videos(data: Path) -> list[tuple[Path, int, str]]:
    """FaceForensics++ videos (path, label, method): evaluation only, at video level."""
    videos = []
    for path in sorted((data / "ffpp_c23").glob("*.mp4")):
        method = path.stem.split("_")[0]
        videos.append((path, REAL if method == "real" else FAKE, method))
    return videos
