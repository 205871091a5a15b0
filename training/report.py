"""Metrics of one split from calibrated fake probabilities: overall, per manipulation method,
per source, per face size, grayscale vs colour, and the UTKFace race x gender FPR table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from training.manifest import FaceRecord
from training.metrics import expected_calibration_error, rates, roc_auc
from training.sources import LONDON, PHOTO_SOURCES, REAL, SDFD, UTK_GENDERS, UTK_RACES, UTKFACE

FACE_SIZE_BUCKETS = ((0, 96, "<96px"), (96, 160, "96-160px"), (160, 1e9, ">=160px"))
AGE_BANDS = ((0, 18, "0-17"), (18, 30, "18-29"), (30, 45, "30-44"), (45, 60, "45-59"), (60, 200, "60+"))


def age_band(age: str | None) -> str:
    """A numeric age as its band; anything else (a prompt's words, missing) stays as given."""
    if age is None or not age.isdigit():
        return age or "unstated"
    return next(name for lo, hi, name in AGE_BANDS if lo <= int(age) < hi)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_round(v) for v in value]
    return value


def block(labels: NDArray[np.int64], probabilities: NDArray[np.float64], threshold: float) -> dict[str, Any]:
    """AUC, ECE and the rates at the threshold for one set of faces."""
    out = rates(labels, probabilities, threshold)
    out["auc"] = roc_auc(labels, probabilities)
    out["ece"] = expected_calibration_error(labels, probabilities) if labels.size else None
    return out


def summarise(
    faces: Sequence[FaceRecord], probabilities: NDArray[np.float64], threshold: float
) -> dict[str, Any]:
    labels = np.array([f.label for f in faces], dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    real = labels == REAL
    methods = np.array([f.method for f in faces])
    sources = np.array([f.source for f in faces])
    out: dict[str, Any] = {"overall": block(labels, p, threshold)}

    # each manipulation against every real face, and against the reals of its own source
    by_method: dict[str, Any] = {}
    # reals with real context around the face (photos), not only tight crops: generated
    # portraits must be told from photos, or "has surroundings" stands in for "generated"
    photo_real = real & np.isin(sources, [*PHOTO_SOURCES, "hardfake"])
    for method in sorted(set(methods[~real])):
        fake = methods == method
        own = fake | (real & (sources == sources[fake][0]))
        by_method[method] = {
            "vs_all_reals": block(labels[fake | real], p[fake | real], threshold),
            "vs_same_source_reals": block(labels[own], p[own], threshold),
            "vs_photo_reals": block(labels[fake | photo_real], p[fake | photo_real], threshold),
        }
    out["by_method"] = by_method
    out["real_fpr_by_source"] = {
        s: rates(labels[real & (sources == s)], p[real & (sources == s)], threshold)
        for s in sorted(set(sources[real]))
    }
    out["by_source"] = {
        s: block(labels[sources == s], p[sources == s], threshold) for s in sorted(set(sources))
    }
    sizes = np.array([f.face_size for f in faces])
    out["by_face_size"] = {
        name: block(labels[(sizes >= lo) & (sizes < hi)], p[(sizes >= lo) & (sizes < hi)], threshold)
        for lo, hi, name in FACE_SIZE_BUCKETS
    }
    grey = np.array([f.grayscale for f in faces])
    out["by_colour"] = {
        "grayscale": block(labels[grey], p[grey], threshold),
        "colour": block(labels[~grey], p[~grey], threshold),
    }
    out["utkface_fpr"] = utkface_table(faces, p, threshold)
    out["london_fpr"] = group_rates(faces, p, threshold, LONDON, ("ethnicity", "gender", "age_band"))
    out["sdfd_caught"] = group_rates(faces, p, threshold, SDFD, ("ethnicity", "gender", "age"))
    return _round(out)  # type: ignore[no-any-return]


def group_rates(
    faces: Sequence[FaceRecord],
    p: NDArray[np.float64],
    threshold: float,
    source: str,
    attributes: tuple[str, ...],
) -> dict[str, Any]:
    """Share called fake per value of each attribute of one source (a false positive rate for a
    real source, a catch rate for a fake one), with n and a 95 % interval."""
    from training.metrics import wilson_interval

    members = [(i, f) for i, f in enumerate(faces) if f.source == source]
    table: dict[str, Any] = {}
    for attribute in attributes:

        def value_of(face: FaceRecord, attribute: str = attribute) -> str:
            if attribute == "age_band":
                return age_band(face.attrs.get("age"))
            return face.attrs.get(attribute, "unstated")

        values = sorted({value_of(f) for _, f in members})
        table[attribute] = {}
        for value in values:
            idx = [i for i, f in members if value_of(f) == value]
            called = int((p[idx] >= threshold).sum())
            table[attribute][value] = {
                "n": len(idx),
                "called_fake": called / len(idx),
                "called_fake_95ci": wilson_interval(called, len(idx)),
            }
    return table


def utkface_table(faces: Sequence[FaceRecord], p: NDArray[np.float64], threshold: float) -> dict[str, Any]:
    """False positive rate of UTKFace (all real) per race, per gender and per race x gender."""
    utk = [(i, f) for i, f in enumerate(faces) if f.source == UTKFACE]

    def fpr(members: list[int]) -> dict[str, Any]:
        called = p[members] >= threshold if members else np.zeros(0, bool)
        return {"n": len(members), "fpr": float(called.mean()) if members else None}

    table: dict[str, Any] = {
        "race": {r: fpr([i for i, f in utk if f.attrs.get("race") == r]) for r in UTK_RACES},
        "gender": {g: fpr([i for i, f in utk if f.attrs.get("gender") == g]) for g in UTK_GENDERS},
        "age_band": {
            name: fpr([i for i, f in utk if age_band(f.attrs.get("age")) == name]) for _, _, name in AGE_BANDS
        },
        "race_x_gender": {
            f"{r}/{g}": fpr([i for i, f in utk if f.attrs.get("race") == r and f.attrs.get("gender") == g])
            for r in UTK_RACES
            for g in UTK_GENDERS
        },
    }
    return table
