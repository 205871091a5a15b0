"""The labelled images under ``<shared>/data`` (see its SOURCES.md), one record per source file.

Every record carries the group it must be split by: a DFDC real and its fakes share their
original video; a London portrait is grouped by person, a web photo by the repository it came
from (so the test part holds repositories never seen in training), a deepface photo by person
(``same_person_pairs.csv``). Files without identity ids start as their own group; the manifest
then merges groups whose faces belong to one person or are near-duplicates (face embeddings,
thumbnails, byte-identical files), so no person is in two splits.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

REAL, FAKE = 0, 1

# source names, used for sampling weights, reports and subgroup metrics
DFDC = "dfdc"
UTKFACE = "utkface"
HARDFAKE = "hardfake"
DEEPFACE = "deepface"
SDFD = "sdfd"
LONDON = "london"
WEB = "web_photos"
FEEDBACK = "feedback"  # reviewers' labels (training.feedback), train split only
MODERN_GENERATED = "modern_generated"  # today's generators and identity tools (modern_fakes/)
MODERN_SWAPPED = "modern_swapped"  # today's swap, reenactment and talking-head tools
# The kind of evidence each fake source is (the kind outputs learn and are measured by these).
GENERATED_SOURCES = frozenset({HARDFAKE, SDFD, MODERN_GENERATED})
SWAPPED_SOURCES = frozenset({DFDC, MODERN_SWAPPED})
# Photo sets with real context around the faces: few files, so larger held-out parts.
PHOTO_SOURCES = (DEEPFACE, LONDON, WEB)
PHOTO_SPLIT = (0.2, 0.3)  # val, test fractions of their groups

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
    fractions: tuple[float, float] | None = None  # (val, test) for this source, else the spec's
    split: str | None = None  # a split fixed by the source (balanced by files), else drawn by hash


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


def _person_groups(pairs_csv: Path) -> dict[str, str]:
    """file -> the alphabetically first file of its person, from a same-person pairs list."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    if pairs_csv.is_file():
        with pairs_csv.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("Decision", "Yes").strip().lower() == "yes":
                    a, b = find(row["file_x"]), find(row["file_y"])
                    parent[max(a, b)] = min(a, b)
    return {x: find(x) for x in parent}


def _deepface(data: Path) -> list[SourceImage]:
    """Full photos of public figures: real faces in context, split by person into dev and test."""
    root = data / "deepface_photos"
    person = _person_groups(root / "same_person_pairs.csv")
    return [
        SourceImage(
            f"deepface_photos/{p.name}",
            DEEPFACE,
            REAL,
            "real",
            f"deepface:{person.get(p.name, p.name)}",
            all_faces=True,
            fractions=PHOTO_SPLIT,
        )
        for p in sorted(root.glob("*.jpg"))
    ]


def _london(data: Path) -> list[SourceImage]:
    """Studio portraits, two per person: split by person, with self-reported attributes."""
    root = data / LONDON
    items = []
    with (root / "people.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            attrs = {k: row[k] for k in ("age", "gender", "ethnicity", "expression")}
            items.append(
                SourceImage(
                    f"{LONDON}/{row['file']}",
                    LONDON,
                    REAL,
                    "real",
                    f"london:{row['person']}",
                    attrs,
                    fractions=PHOTO_SPLIT,
                )
            )
    return items


def balanced_splits(sizes: dict[str, int], fractions: tuple[float, float], seed: int = 0) -> dict[str, str]:
    """Whole groups to splits so each split gets about its share of the files: a few groups of
    very different sizes (17 repositories, one with 19 group photos) drawn by hash alone would
    leave a split nearly empty. Groups go in a seeded hash order: test first, then val."""
    val, test = fractions
    order = sorted(sizes, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    total, taken, out = sum(sizes.values()), 0, {}
    for group in order:
        middle = taken + sizes[group] / 2  # a group goes where most of it falls
        if middle < test * total:
            out[group] = "test"
        elif middle < (test + val) * total:
            out[group] = "val"
        else:
            out[group] = "train"
        taken += sizes[group]
    return out


def _web_photos(data: Path) -> list[SourceImage]:
    """Ordinary photos of people, every face kept; grouped by the repository they came from, so
    the test part holds repositories (cameras, photographers, people) never seen in training."""
    root = data / WEB
    with (root / "sources.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[row["repo"]] = sizes.get(row["repo"], 0) + 1
    split_of = balanced_splits(sizes, PHOTO_SPLIT)
    return [
        SourceImage(
            f"{WEB}/{row['file']}",
            WEB,
            REAL,
            "real",
            f"web:{row['repo']}",
            {"repo": row["repo"]},
            all_faces=True,
            fractions=PHOTO_SPLIT,
            split=split_of[row["repo"]],
        )
        for row in rows
    ]


_SDFD_GENDERS = (
    ("androgynous", "androgynous"),
    ("woman", "woman"),
    ("female", "woman"),
    ("girl", "woman"),
    ("man", "man"),
    ("male", "man"),
    ("boy", "man"),
)
_SDFD_AGES = (
    ("old", "older"),
    ("elderly", "older"),
    ("wrinkles", "older"),
    ("young", "young"),
    ("teen", "young"),
    ("child", "young"),
    ("kid", "young"),
    ("middle", "middle-aged"),
)


def sdfd_attributes(prompt: str) -> dict[str, str]:
    """Attribute groups from an SDFD prompt: the leading ethnicity term, gender presentation, age."""
    words = prompt.lower().replace(",", " ").split()
    ethnicity = prompt.split(",")[0].strip(" [").lower() or "unstated"
    gender = next((g for key, g in _SDFD_GENDERS if any(w.endswith(key) for w in words)), "unstated")
    age = next((a for key, a in _SDFD_AGES if any(w.startswith(key) for w in words)), "unstated")
    return {"ethnicity": ethnicity, "gender": gender, "age": age}


def _sdfd(data: Path) -> list[SourceImage]:
    """Stable Diffusion 2.1 portraits (fakes only): no identities, each file its own group."""
    root = data / SDFD
    items = []
    with (root / "prompts.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            key = f"{SDFD}/{row['file']}"
            items.append(
                SourceImage(
                    key, SDFD, FAKE, "stable_diffusion", f"sdfd:{row['file']}", sdfd_attributes(row["prompt"])
                )
            )
    return items


# Generator families of ``modern_fakes/``: the unit of its split. A family is a base model or a
# kind of tool, so a held-out family measures generators the model never saw, not new files
# of a generator it trained on. Tools are matched by the first pattern found in
# ``generator_or_tool`` (lower case, families in order: headshot services built on FLUX are
# services first); the split of each family is fixed here, chosen before any
# model saw the data, so that validation and test each hold distinct families of both kinds.
MODERN_FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (family, split, patterns)
    ("headshot_services", "val", ("headshot",)),
    ("flux", "test", ("flux",)),
    (
        "sd1_identity",
        "test",
        ("arc2face", "caphuman", "easyphoto", "ic-light", "deepfakeface text2img", "animatediff"),
    ),
    ("sdxl_identity", "train", ("photomaker", "instantid (sdxl")),
    ("sd1_class_prior", "train", ("class-prior",)),
    (
        "other_text_to_image",
        "train",
        (
            "hidream",
            "hunyuan",
            "infinity",
            "cascade",
            "stable diffusion 2",
            "kolors",
            "xversebench",
            "aiface",
        ),
    ),
    (
        "gan_face_swap",
        "test",
        ("infoswap", "faceshifter", "hififace", "megafs", "blendface", "reliableswap", "arcface-identity"),
    ),
    (
        "talking_head_other",
        "val",
        ("aniportrait", "anitalker", "sadtalker", "liveportrait", "retalking", "lia face"),
    ),
    ("talking_head_vasa_emo", "train", ("vasa-1", "emo (")),
    ("inswapper_tools", "train", ("inswapper", "facefusion", "reactor", "inpainting", "reface")),
)


def modern_family(generator: str) -> tuple[str, str]:
    """(family, split) of a ``generator_or_tool`` entry; raises on a tool no family names, so a
    new file cannot slip into training unnoticed."""
    name = generator.lower()
    for family, split, patterns in MODERN_FAMILIES:
        if any(p in name for p in patterns):
            return family, split
    raise ValueError(f"modern_fakes: no family for generator {generator!r}")


def _modern_fakes(data: Path) -> list[SourceImage]:
    """Faces from today's generators and swap tools, split by family (whole families held out)."""
    root = data / "modern_fakes"
    items = []
    with (root / "sources.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            family, split = modern_family(row["generator_or_tool"])
            source = MODERN_GENERATED if row["kind"] == "generated" else MODERN_SWAPPED
            items.append(
                SourceImage(
                    f"modern_fakes/{row['file']}",
                    source,
                    FAKE,
                    family,
                    f"modern:{family}",
                    {"family": family, "generator": row["generator_or_tool"], "repo": row["repo"]},
                    split=split,
                )
            )
    return items


def list_sources(data: Path) -> list[SourceImage]:
    """All labelled still images; raises if the data folder is not there."""
    if not (data / "dfdc_faces" / "pairs.csv").is_file():
        raise FileNotFoundError(f"training data not found under {data} (expected dfdc_faces/pairs.csv)")
    items = _dfdc(data) + _utkface(data) + _hardfake(data) + _deepface(data)
    # the sets added for detectors v2 and v3; older shared folders may lack them
    readers = ((SDFD, _sdfd), (LONDON, _london), (WEB, _web_photos), ("modern_fakes", _modern_fakes))
    for folder, reader in readers:
        if (data / folder).is_dir():
            items += reader(data)
    return items


def ffpp_videos(data: Path) -> list[tuple[Path, int, str]]:
    """FaceForensics++ videos (path, label, method): evaluation only, at video level."""
    videos = []
    for path in sorted((data / "ffpp_c23").glob("*.mp4")):
        method = path.stem.split("_")[0]
        videos.append((path, REAL if method == "real" else FAKE, method))
    return videos
